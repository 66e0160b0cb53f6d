package command

import (
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
)

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		name             string
		parseErr, runErr error
		want             int
		wantStderr       string
		wantRun          bool
	}{
		{name: "a run that succeeds", want: 0, wantRun: true},
		{name: "help", parseErr: flag.ErrHelp, want: 0},
		{name: "wrong flags", parseErr: errors.New("-x: bad"), want: 2, wantStderr: "prog: -x: bad\n"},
		{name: "a run that fails", runErr: errors.New("it broke"), want: 1, wantStderr: "prog: it broke\n", wantRun: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			ran := false
			got := Status(context.Background(), "prog", []string{"-a"}, &stderr,
				func(args []string) (string, error) { return strings.Join(args, " "), tc.parseErr },
				func(_ context.Context, cfg string) error {
					ran = true
					if cfg != "-a" {
						t.Errorf("run got config %q, want the parsed one", cfg)
					}
					return tc.runErr
				})
			if got != tc.want || stderr.String() != tc.wantStderr || ran != tc.wantRun {
				t.Fatalf("status %d, stderr %q, ran %v; want %d, %q, %v", got, stderr.String(), ran, tc.want, tc.wantStderr, tc.wantRun)
			}
		})
	}
}
