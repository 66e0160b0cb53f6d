// Package identities is what the broker's authentication plugin knows: the services'
// credentials (configured) and every device's (read from the control plane's database
// and kept in memory, so the broker decides at memory speed and keeps deciding while
// the database is away).
package identities

import (
	"crypto/sha256"
	"crypto/subtle"
	"sync"
	"time"

	"github.com/otaplane/ota/pkg/brokeridentity"
)

// Service is a service's configured credential.
type Service struct {
	Username       string
	PasswordSHA256 [32]byte
	Kind           brokeridentity.Kind
}

// device is one generation of a device's credentials.
type device struct {
	tenantID, deviceID string
	passwordSHA256     []byte
	revoked            bool
	retireAt           time.Time // zero: not being retired
}

func (d device) activeAt(now time.Time) bool {
	return !d.revoked && (d.retireAt.IsZero() || now.Before(d.retireAt))
}

// Table holds the identities. Lookups take a read lock: the broker asks for every
// connection and every message.
type Table struct {
	services map[string]Service
	now      func() time.Time

	mu      sync.RWMutex
	devices map[string]device // by username
	loaded  bool
	// ending lists active generations that stop working at a known time (rotations),
	// so the plugin can disconnect them when it comes.
	ending map[string]time.Time
	kicks  []string

	// lookup reads one credential the table has not seen yet: a device registered a
	// moment ago connects at once, not at the next sync. It runs on the broker's thread,
	// so it is bounded (misses).
	lookup func(username string) (Row, bool, error)
	misses missGuard
}

// SetLookup installs the read of one unknown credential.
func (t *Table) SetLookup(f func(username string) (Row, bool, error)) { t.lookup = f }

// NewTable returns a table with the services and no device yet.
func NewTable(services []Service, now func() time.Time) *Table {
	t := &Table{services: map[string]Service{}, now: now, devices: map[string]device{}, ending: map[string]time.Time{}}
	for _, s := range services {
		t.services[s.Username] = s
	}
	return t
}

// Authenticate checks a CONNECT: a service's credential, or a device's active
// credential presented with the device's own client id.
func (t *Table) Authenticate(username, password, clientID string) (brokeridentity.Identity, bool) {
	sum := sha256.Sum256([]byte(password))
	if s, ok := t.services[username]; ok {
		return brokeridentity.Identity{Kind: s.Kind}, subtle.ConstantTimeCompare(sum[:], s.PasswordSHA256[:]) == 1
	}
	t.mu.RLock()
	d, ok := t.devices[username]
	t.mu.RUnlock()
	if !ok {
		d, ok = t.lookupMiss(username)
	}
	if !ok || !d.activeAt(t.now()) || subtle.ConstantTimeCompare(sum[:], d.passwordSHA256) != 1 ||
		clientID != brokeridentity.DeviceClientID(d.tenantID, d.deviceID) {
		return brokeridentity.Identity{}, false
	}
	return brokeridentity.Identity{Kind: brokeridentity.KindDevice, TenantID: d.tenantID, DeviceID: d.deviceID}, true
}

// Identity returns who an authenticated username is now: a device revoked or retired
// since it connected is nobody, so its next message is refused.
func (t *Table) Identity(username string) (brokeridentity.Identity, bool) {
	if s, ok := t.services[username]; ok {
		return brokeridentity.Identity{Kind: s.Kind}, true
	}
	t.mu.RLock()
	d, ok := t.devices[username]
	t.mu.RUnlock()
	if !ok || !d.activeAt(t.now()) {
		return brokeridentity.Identity{}, false
	}
	return brokeridentity.Identity{Kind: brokeridentity.KindDevice, TenantID: d.tenantID, DeviceID: d.deviceID}, true
}

// lookupMiss reads a credential the last sync has not brought yet, if the guard
// allows a lookup now; what it finds joins the table.
func (t *Table) lookupMiss(username string) (device, bool) {
	if t.lookup == nil {
		return device{}, false
	}
	if _, _, _, ok := brokeridentity.ParseDeviceUsername(username); !ok {
		return device{}, false
	}
	now := t.now()
	if !t.misses.allow(username, now) {
		return device{}, false
	}
	r, found, err := t.lookup(username)
	t.misses.done(username, now, found, err)
	if err != nil || !found {
		return device{}, false
	}
	t.Apply([]Row{r})
	t.mu.RLock()
	defer t.mu.RUnlock()
	d, ok := t.devices[username]
	return d, ok
}

// Row is one device credential as the database has it.
type Row struct {
	Username       string
	TenantID       string
	DeviceID       string
	PasswordSHA256 []byte
	Revoked        bool
	RetireAt       *time.Time
}

// Apply records rows read from the database. A generation that stops being active is
// queued to be disconnected.
func (t *Table) Apply(rows []Row) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.loaded = true
	for _, r := range rows {
		d := device{tenantID: r.TenantID, deviceID: r.DeviceID, passwordSHA256: r.PasswordSHA256, revoked: r.Revoked}
		if r.RetireAt != nil {
			d.retireAt = *r.RetireAt
		}
		old, had := t.devices[r.Username]
		// A generation whose retirement came but whose kick the broker has not taken
		// yet still counts as connected: a sync that re-reads it first must not drop
		// the kick.
		_, pending := t.ending[r.Username]
		t.devices[r.Username] = d
		delete(t.ending, r.Username)
		switch {
		case had && (old.activeAt(now) || pending) && !d.activeAt(now):
			t.kicks = append(t.kicks, r.Username)
		case d.activeAt(now) && !d.retireAt.IsZero():
			t.ending[r.Username] = d.retireAt
		}
	}
}

// Loaded reports whether the devices were read at least once.
func (t *Table) Loaded() bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.loaded
}

// TakeKicks returns the usernames to disconnect now: revoked ones, and retired ones
// whose time has come.
func (t *Table) TakeKicks() []string {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for u, at := range t.ending {
		if !now.Before(at) {
			t.kicks = append(t.kicks, u)
			delete(t.ending, u)
		}
	}
	out := t.kicks
	t.kicks = nil
	return out
}
