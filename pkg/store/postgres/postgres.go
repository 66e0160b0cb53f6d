// Package postgres implements store.Store on PostgreSQL through GORM.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	gormpg "gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/secretbox"
	"github.com/otaplane/ota/pkg/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the PostgreSQL store.
type Store struct {
	db           *gorm.DB
	sqlDB        *sql.DB
	queryTimeout time.Duration
	// secrets seals what the store keeps secret (ChirpStack API tokens); without it
	// such values can be neither stored nor read.
	secrets *secretbox.Box
}

var _ store.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithSecrets seals the secrets the store keeps with box (from secrets.encryption_key).
func WithSecrets(box *secretbox.Box) Option {
	return func(s *Store) { s.secrets = box }
}

// Open connects (lazily: a database that is down now can come back later).
func Open(cfg config.Database, opts ...Option) (*Store, error) {
	db, err := gorm.Open(gormpg.Open(cfg.DSN), &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		PrepareStmt:            false,
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("postgres: pool: %w", err)
	}
	sqlDB.SetMaxOpenConns(cfg.MaxOpenConns)
	sqlDB.SetMaxIdleConns(cfg.MaxOpenConns)
	sqlDB.SetConnMaxLifetime(cfg.ConnMaxLifetime)
	st := &Store{db: db, sqlDB: sqlDB, queryTimeout: cfg.QueryTimeout}
	for _, o := range opts {
		o(st)
	}
	return st, nil
}

// OpenReady opens the store and, when configured, applies migrations — retrying for up
// to wait, since the database may start after us.
func OpenReady(ctx context.Context, cfg config.Database, wait time.Duration, opts ...Option) (*Store, error) {
	st, err := Open(cfg, opts...)
	if err != nil {
		return nil, err
	}
	if !cfg.MigrateOnStart {
		return st, nil
	}
	deadline := time.Now().Add(wait)
	for {
		_, err := st.Migrate(ctx)
		if err == nil {
			return st, nil
		}
		if time.Now().After(deadline) {
			st.Close()
			return nil, fmt.Errorf("migrate: %w", err)
		}
		select {
		case <-ctx.Done():
			st.Close()
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// Close closes the pool.
func (s *Store) Close() error { return s.sqlDB.Close() }

// Migrate applies pending migrations under a Postgres advisory lock, so api and worker
// replicas starting together apply each migration once; then it seals the secrets still
// stored in clear (see SealPlaintextTokens).
func (s *Store) Migrate(ctx context.Context) (applied int, err error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return 0, fmt.Errorf("postgres: migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, s.sqlDB, mustSub(migrations, "migrations"),
		goose.WithSessionLocker(locker),
		// Branches number their migrations apart and may merge in any order: a lower
		// version that arrives after a higher one is applied rather than refused.
		goose.WithAllowOutofOrder(true))
	if err != nil {
		return 0, fmt.Errorf("postgres: migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return 0, fmt.Errorf("postgres: migrate up: %w", classify(err))
	}
	if s.secrets != nil {
		if _, err := s.SealPlaintextTokens(ctx); err != nil {
			return len(results), err
		}
	}
	return len(results), nil
}

// Ping checks the connection.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	if err := s.sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", classify(err))
	}
	return nil
}

func (s *Store) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.queryTimeout)
}

// conn is the connection for one statement: the transaction ctx carries (see Audited),
// else the pool.
func (s *Store) conn(ctx context.Context) *gorm.DB {
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return tx.WithContext(ctx)
	}
	return s.db.WithContext(ctx)
}

// classify maps driver errors onto the store's sentinel errors.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, gorm.ErrRecordNotFound) || errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505": // unique_violation
			return fmt.Errorf("%w: %s", store.ErrConflict, pgErr.ConstraintName)
		// Data exceptions (NUL or invalid UTF-8 in text, malformed uuid, out of range),
		// check violations and too-large index rows: the value, not the database, is wrong.
		case strings.HasPrefix(pgErr.Code, "22"), pgErr.Code == "23514", pgErr.Code == "54000":
			return fmt.Errorf("%w: %w", store.ErrInvalidInput, err)
		case slices.Contains([]string{"57P01", "57P02", "57P03", "53300"}, pgErr.Code): // shutdown, crash, cannot connect now, too many connections
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
		return err
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	// Anything that is not a server-side SQL error is a transport problem: refused
	// connection, reset, deadline while connecting.
	return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // the embedded directory is fixed at build time
	}
	return sub
}
