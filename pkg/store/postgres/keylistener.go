package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// KeyChangeChannel is the channel the triggers on api_keys and tenants notify (migration
// 00014) whenever a statement changes either table.
const KeyChangeChannel = "ota_key_changes"

// Timings of the proof of the notification path (see KeyListener).
const (
	keyProbeInterval = 2 * time.Second
	keyProbeBound    = time.Second
	// keyProofFreshness also covers probes that could not even be sent (pool exhausted).
	keyProofFreshness = 5 * time.Second
	// keyUnprovenReconnect: a session that proves nothing for this long is replaced, since
	// a connection can die without its socket noticing.
	keyUnprovenReconnect = 10 * time.Second
	keyReconnectMin      = 200 * time.Millisecond
	keyReconnectMax      = 10 * time.Second
	keyConnectTimeout    = 10 * time.Second
)

// keyProbePrefix starts every probe's payload. Probes must not empty caches: every
// replica hears every other's probes, and N replicas probing every 2 s would otherwise
// empty each cache several times a second.
const keyProbePrefix = "probe:"

var errKeyPathUnproven = errors.New("no probe came back on the listening session in time " +
	"(database.listen_dsn must reach PostgreSQL directly, not through a transaction pooler)")

// KeyListener hears the key and tenant changes committed in the database, on a session
// of its own (LISTEN needs one), and reconnects with backoff when that session fails.
//
// A listening session alone proves nothing: behind a transaction-pooling pooler, LISTEN
// succeeds on whichever server connection it lands on and nothing is ever delivered. So
// the listener proves the path end to end: every two seconds it sends a probe
// notification through the store's ordinary pool, and Proven holds only while the latest
// such probe came back on its session within a second. PostgreSQL delivers notifications
// in commit order, so a probe back in time also means every change committed before it
// was heard. The probe is sent only while both triggers exist and are enabled: a replica
// whose database lacks them (migration not applied, trigger disabled) never proves.
type KeyListener struct {
	st      *Store
	connCfg *pgx.ConnConfig
	onError func(error)
	now     func() time.Time
	// probePrefix tells this listener's probes from other replicas'.
	probePrefix string
	probeNow    chan struct{}

	interval, reconnectAfter, reconnectMin, reconnectMax time.Duration

	mu    sync.Mutex
	proof keyPathProof
	// endSession ends the current listening session; nil when none listens.
	endSession context.CancelCauseFunc
}

// KeyListenerConfig configures a KeyListener.
type KeyListenerConfig struct {
	// DSN reaches PostgreSQL directly (database.listen_dsn).
	DSN string
	// ApplicationName names the listening session in pg_stat_activity.
	ApplicationName string
	// OnError hears why a session ended or could not start; the cache is bypassed
	// meanwhile. Nil: not reported.
	OnError func(error)
}

// NewKeyListener prepares a listener that probes through st's pool; Run starts it.
func NewKeyListener(st *Store, cfg KeyListenerConfig) (*KeyListener, error) {
	connCfg, err := pgx.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("key listener: %w", err)
	}
	if cfg.ApplicationName != "" {
		connCfg.RuntimeParams["application_name"] = cfg.ApplicationName
	}
	onError := cfg.OnError
	if onError == nil {
		onError = func(error) {}
	}
	return &KeyListener{st: st, connCfg: connCfg, onError: onError, now: time.Now,
		probePrefix: keyProbePrefix + uuid.NewString() + ":", probeNow: make(chan struct{}, 1),
		interval: keyProbeInterval, reconnectAfter: keyUnprovenReconnect,
		reconnectMin: keyReconnectMin, reconnectMax: keyReconnectMax,
		proof: keyPathProof{bound: keyProbeBound, freshness: keyProofFreshness}}, nil
}

// Proven says whether changes committed in the database are known to reach this
// replica now; a cache they empty may serve only meanwhile.
func (l *KeyListener) Proven() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.proof.proven(l.now())
}

// Run listens until ctx ends. It calls changed whenever a key or tenant changed, and
// whenever changes may have gone unheard: a session started or ended, a probe was late.
func (l *KeyListener) Run(ctx context.Context, changed func()) {
	var wg sync.WaitGroup
	wg.Go(func() { l.probeLoop(ctx, changed) })
	defer wg.Wait()
	backoff := l.reconnectMin
	for {
		proved, err := l.session(ctx, changed)
		l.mu.Lock()
		l.proof.listen(false, l.now())
		l.endSession = nil
		l.mu.Unlock()
		changed()
		if ctx.Err() != nil {
			return
		}
		l.onError(err)
		if proved {
			backoff = l.reconnectMin
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, l.reconnectMax)
	}
}

// session listens on one connection until it fails or is ended; proved reports whether
// it ever proved the path.
func (l *KeyListener) session(ctx context.Context, changed func()) (proved bool, err error) {
	sctx, end := context.WithCancelCause(ctx)
	defer end(nil)
	cctx, cancel := context.WithTimeout(sctx, keyConnectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, l.connCfg)
	if err != nil {
		return false, fmt.Errorf("key listener: connect: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx) // the session is over either way
	}()
	if _, err := conn.Exec(cctx, "LISTEN "+KeyChangeChannel); err != nil {
		return false, fmt.Errorf("key listener: listen: %w", err)
	}
	l.mu.Lock()
	l.proof.listen(true, l.now())
	l.endSession = end
	l.mu.Unlock()
	changed() // whatever changed while no session listened went unheard
	select {
	case l.probeNow <- struct{}{}:
	default:
	}
	for {
		n, err := conn.WaitForNotification(sctx)
		if err != nil {
			if cause := context.Cause(sctx); cause != nil && ctx.Err() == nil {
				err = cause
			}
			return proved, fmt.Errorf("key listener: %w", err)
		}
		if seq, ours := strings.CutPrefix(n.Payload, l.probePrefix); ours {
			if l.probeBack(seq, changed) {
				proved = true
			}
			continue
		}
		if strings.HasPrefix(n.Payload, keyProbePrefix) {
			continue // another replica's probe
		}
		changed()
	}
}

// probeBack records one of this listener's probes arriving; it reports whether the probe
// proved the path.
func (l *KeyListener) probeBack(payload string, changed func()) bool {
	seq, err := strconv.ParseUint(payload, 10, 64)
	if err != nil {
		return false
	}
	l.mu.Lock()
	late := l.proof.back(seq, l.now())
	proven := l.proof.proven(l.now())
	l.mu.Unlock()
	if late {
		changed()
	}
	return proven
}

func (l *KeyListener) probeLoop(ctx context.Context, changed func()) {
	t := time.NewTicker(l.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-l.probeNow:
		}
		l.probe(ctx, changed)
	}
}

// probe sends one probe through the ordinary pool while a session listens, and ends a
// session that has proved nothing for too long.
func (l *KeyListener) probe(ctx context.Context, changed func()) {
	now := l.now()
	l.mu.Lock()
	if !l.proof.listening {
		l.mu.Unlock()
		return
	}
	if l.proof.unprovenFor(now) > l.reconnectAfter {
		end := l.endSession
		l.mu.Unlock()
		end(errKeyPathUnproven)
		return
	}
	seq, overdue := l.proof.send(now)
	bound := l.proof.bound
	l.mu.Unlock()
	if overdue {
		changed()
	}
	pctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	// Sent only while both triggers exist and are enabled: without them no change would
	// ever be heard, so nothing may be proven.
	err := l.st.db.WithContext(pctx).Exec(`SELECT pg_notify(?, ?) WHERE (SELECT count(*) FROM pg_trigger
		WHERE tgrelid IN ('api_keys'::regclass, 'tenants'::regclass)
		AND tgname IN ('api_keys_notify_change', 'tenants_notify_change') AND tgenabled <> 'D') = 2`,
		KeyChangeChannel, l.probePrefix+strconv.FormatUint(seq, 10)).Error
	if err != nil && ctx.Err() == nil {
		// The probe stays pending and goes overdue: the path is unproven until one is back.
		l.onError(fmt.Errorf("key listener: probe: %w", classify(err)))
	}
}
