package commands

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/otaplane/ota/otactl/internal/apiclient"
)

func (e *env) groupCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "group", Aliases: []string{"groups"}, Short: "Device groups: static (ids) or dynamic (a label selector)"}
	var selector string
	var devices []string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "A static group (--device) or a dynamic one (--selector)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{"name": args[0], "kind": "static", "device_ids": devices}
			if selector != "" {
				body = map[string]any{"name": args[0], "kind": "dynamic", "selector": selector}
			}
			var g group
			return e.call(cmd, apiclient.Request{Op: "createGroup", JSON: body}, &g, func() { e.groupTable([]group{g}) })
		},
	}
	create.Flags().StringVar(&selector, "selector", "", "label selector, e.g. 'region=eu,ring!=canary' (a dynamic group)")
	create.Flags().StringSliceVar(&devices, "device", nil, "member device ids (a static group)")
	create.MarkFlagsMutuallyExclusive("selector", "device")

	var p pageFlags
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "Groups",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return list(e, cmd, p, "listGroups", nil, "groups", e.groupTable)
		},
	}
	p.add(listCmd)

	var mp pageFlags
	members := &cobra.Command{
		Use:   "members ID",
		Short: "A group's member devices",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return list(e, cmd, mp, "listGroupMembers", map[string]string{"id": args[0]}, "devices", e.deviceTable)
		},
	}
	mp.add(members)

	var add, remove []string
	change := &cobra.Command{
		Use:   "change ID",
		Short: "Add (--add) and remove (--remove) members of a static group",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var g group
			return e.call(cmd, apiclient.Request{Op: "changeGroupMembers", Path: map[string]string{"id": args[0]},
				JSON: map[string]any{"add": add, "remove": remove}}, &g, func() { e.groupTable([]group{g}) })
		},
	}
	change.Flags().StringSliceVar(&add, "add", nil, "device ids to add")
	change.Flags().StringSliceVar(&remove, "remove", nil, "device ids to remove")

	cmd.AddCommand(create, listCmd, members, change, &cobra.Command{
		Use:   "get ID",
		Short: "One group",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var g group
			return e.call(cmd, apiclient.Request{Op: "getGroup", Path: map[string]string{"id": args[0]}}, &g,
				func() { e.groupTable([]group{g}) })
		},
	}, &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a group (its devices stay)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.call(cmd, apiclient.Request{Op: "deleteGroup", Path: map[string]string{"id": args[0]}}, nil,
				func() { fmt.Fprintf(e.stdout, "deleted group %s\n", args[0]) })
		},
	})
	return cmd
}

func (e *env) groupTable(gs []group) {
	rows := make([][]string, len(gs))
	for i, g := range gs {
		rows[i] = []string{g.ID, g.Name, g.Kind, g.Selector, fmt.Sprint(g.MemberCount)}
	}
	table(e.stdout, []string{"ID", "NAME", "KIND", "SELECTOR", "MEMBERS"}, rows)
}
