package chaos

import (
	"context"
	"time"
)

// postgresCut is how long api and workers are without their database.
const postgresCut = 15 * time.Second

// cutPostgres closes every connection of api and workers to PostgreSQL and refuses new
// ones for postgresCut, then lets them connect again.
func cutPostgres(ctx context.Context, e *env, t *timeline) error {
	t.injected = time.Now()
	n, err := e.proxy.Cut()
	if err != nil {
		return err
	}
	t.note("closed %d database connections; refusing new ones for %s", n, postgresCut)
	// Restored even when interrupted, so teardown meets a working database path.
	sleepErr := sleep(ctx, postgresCut)
	if err := e.proxy.Restore(); err != nil {
		return err
	}
	t.back = time.Now()
	return sleepErr
}
