package runshape

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		sizes   []int
		wantErr string
	}{
		{name: "defaults", sizes: []int{1, 10, 50}},
		{name: "sizes", args: []string{"-group-sizes", "1, 100"}, sizes: []int{1, 100}},
		{name: "size zero", args: []string{"-group-sizes", "0"}, wantErr: "-group-sizes"},
		{name: "size not a number", args: []string{"-group-sizes", "1,x"}, wantErr: "-group-sizes"},
		{name: "size too large", args: []string{"-group-sizes", "1001"}, wantErr: "-group-sizes"},
		{name: "persistence", args: []string{"-persistence", "memory"}, wantErr: "-persistence"},
		{name: "no devices", args: []string{"-devices", "0"}, wantErr: "-devices"},
		{name: "no repeats", args: []string{"-repeats", "0"}, wantErr: "-repeats"},
		{name: "no in flight", args: []string{"-in-flight", "0"}, wantErr: "-in-flight"},
		{name: "negative delay", args: []string{"-device-delay", "-1s"}, wantErr: "-device-delay"},
		{name: "vacuum needs postgres", args: []string{"-persistence", "sqlite", "-vacuum"}, wantErr: "-vacuum"},
		{name: "statements need postgres", args: []string{"-persistence", "sqlite", "-statements"}, wantErr: "-statements"},
		{name: "negative batch window", args: []string{"-batch-window", "-1ms"}, wantErr: "-batch-window"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseFlags(append([]string{"-root", "/repo"}, tc.args...))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.sizes, c.GroupSizes)
			require.Equal(t, filepath.Join("/repo", "bench/runshape"), c.OutDir)
		})
	}
}
