package stack

import (
	"context"
	"os"
	"os/exec"
	"strings"
)

// Commit names the checked-out commit, noting uncommitted changes other than the
// benchmarks' own result files; it only reads the repository, and answers "" when git
// cannot tell.
func (r Repo) Commit(ctx context.Context) string {
	cmd := exec.CommandContext(ctx, "git", "-C", r.Root, "rev-parse", "--short", "HEAD")
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	rev := strings.TrimSpace(string(out))
	// Optional locks off: status must not rewrite the index while others work in the tree.
	cmd = exec.CommandContext(ctx, "git", "-C", r.Root, "status", "--porcelain", "--untracked-files=no",
		"--", ".", ":(exclude)bench/results.*", ":(exclude)bench/chaos.*")
	cmd.Env = append(os.Environ(), "GIT_OPTIONAL_LOCKS=0")
	if out, err := cmd.Output(); err == nil && len(strings.TrimSpace(string(out))) > 0 {
		rev += " with uncommitted changes"
	}
	return rev
}
