// Package localfirst runs a workflow step as a local activity first — no task-list round
// trip, one history marker instead of three events and a decision task — and hands it to
// the regular activity of the same registered name, with durable retries, when the local
// attempts keep failing for a reason worth retrying.
package localfirst

import (
	"errors"
	"slices"

	"go.uber.org/cadence"
	"go.uber.org/cadence/workflow"
)

// Run executes fn (registered as name) with arg and decodes into result. Reasons listed
// as non-retryable in local's retry policy are permanent: they are returned at once.
func Run(ctx workflow.Context, name string, fn, arg, result interface{},
	local workflow.LocalActivityOptions, fallback workflow.ActivityOptions) error {
	lctx := workflow.WithLocalActivityOptions(ctx, local)
	err := workflow.ExecuteLocalActivity(lctx, fn, arg).Get(lctx, result)
	if err == nil || ctx.Err() != nil || permanent(err, local.RetryPolicy) {
		return err
	}
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, fallback), name, arg).Get(ctx, result)
}

func permanent(err error, p *cadence.RetryPolicy) bool {
	var ce *cadence.CustomError
	return p != nil && errors.As(err, &ce) && slices.Contains(p.NonRetriableErrorReasons, ce.Reason())
}
