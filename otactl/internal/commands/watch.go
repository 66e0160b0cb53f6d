package commands

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/otaplane/ota/otactl/internal/apiclient"
	"github.com/otaplane/ota/otactl/internal/progress"
)

// barWidth is the cells of a wave's bar in the live view.
const barWidth = 30

// watch follows a campaign until it ends. On a terminal it redraws the view in place;
// otherwise (a pipe, a CI log) it prints a line whenever the progress changes. It ends
// with a summary and exit 1 unless the campaign completed. With -o json it prints each
// changed status as one JSON line.
func (e *env) watch(cmd *cobra.Command, id string, w watchFlags) error {
	if err := e.needKey(); err != nil {
		return err
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	drawn, last := 0, ""
	return e.poll(cmd.Context(), w, "campaign "+id, func() error {
		var s progress.Status
		raw, err := c.Do(cmd.Context(), apiclient.Request{Op: "getCampaignStatus", Path: map[string]string{"id": id}}, &s)
		if err != nil {
			return err
		}
		drawn, last = e.draw(s, raw, drawn, last)
		ended, completed := progress.Finished(s.State)
		switch {
		case !ended:
			return errStillGoing
		case !completed:
			fmt.Fprintln(e.stdout, progress.Summary(s))
			return &exitError{code: exitNotCompleted}
		default:
			fmt.Fprintln(e.stdout, progress.Summary(s))
			return nil
		}
	})
}

// draw shows s; drawn is how many lines the previous view took on a terminal and last
// the previous output, so unchanged progress prints nothing new off a terminal.
func (e *env) draw(s progress.Status, raw []byte, drawn int, last string) (int, string) {
	switch {
	case e.output() == "json":
		line := strings.TrimSpace(string(raw))
		if line != last {
			fmt.Fprintln(e.stdout, line)
		}
		return 0, line
	case e.isTerminal:
		lines := progress.View(s, barWidth)
		if drawn > 0 {
			fmt.Fprintf(e.stdout, "\x1b[%dA\x1b[J", drawn) // back to the view's first line, clear below
		}
		fmt.Fprintln(e.stdout, strings.Join(lines, "\n"))
		return len(lines), ""
	default:
		line := progress.Line(s)
		if line != last {
			fmt.Fprintln(e.stdout, time.Now().UTC().Format("15:04:05"), line)
		}
		return 0, line
	}
}
