package identities

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/otaplane/ota/pkg/brokeridentity"
)

const tenant = "0b6c3f4e-8f43-4c55-9d8e-2f1a6b7c9d01"

func sum(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func TestTable(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	var worker Service
	worker.Username, worker.Kind = "ota-worker", brokeridentity.KindWorker
	copy(worker.PasswordSHA256[:], sum("worker-secret"))
	tab := NewTable([]Service{worker}, clock)
	later := now.Add(time.Minute)
	tab.Apply([]Row{
		{Username: tenant + ":d1:1", TenantID: tenant, DeviceID: "d1", PasswordSHA256: sum("pw1")},
		{Username: tenant + ":d2:1", TenantID: tenant, DeviceID: "d2", PasswordSHA256: sum("old"), RetireAt: &later},
		{Username: tenant + ":d2:2", TenantID: tenant, DeviceID: "d2", PasswordSHA256: sum("new")},
		{Username: tenant + ":d3:1", TenantID: tenant, DeviceID: "d3", PasswordSHA256: sum("pw3"), Revoked: true},
	})
	tests := []struct {
		name, user, pass, client string
		ok                       bool
	}{
		{"device", tenant + ":d1:1", "pw1", tenant + ":d1", true},
		{"device with another client id", tenant + ":d1:1", "pw1", tenant + ":d2", false},
		{"device with a wrong password", tenant + ":d1:1", "pw2", tenant + ":d1", false},
		{"rotated-out credential within its grace", tenant + ":d2:1", "old", tenant + ":d2", true},
		{"rotated-in credential", tenant + ":d2:2", "new", tenant + ":d2", true},
		{"revoked", tenant + ":d3:1", "pw3", tenant + ":d3", false},
		{"unknown", tenant + ":d9:1", "pw", tenant + ":d9", false},
		{"worker", "ota-worker", "worker-secret", "any", true},
		{"worker with a wrong password", "ota-worker", "nope", "any", false},
		{"empty", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := tab.Authenticate(tt.user, tt.pass, tt.client); ok != tt.ok {
				t.Fatalf("Authenticate = %v, want %v", ok, tt.ok)
			}
		})
	}

	// Time passes: the rotated-out generation retires and is disconnected.
	now = later
	if _, ok := tab.Authenticate(tenant+":d2:1", "old", tenant+":d2"); ok {
		t.Fatal("a retired credential still connects")
	}
	if kicks := tab.TakeKicks(); len(kicks) != 1 || kicks[0] != tenant+":d2:1" {
		t.Fatalf("kicks after retirement = %v", kicks)
	}
	// Revocation: refused at once for messages, and disconnected.
	tab.Apply([]Row{{Username: tenant + ":d1:1", TenantID: tenant, DeviceID: "d1", PasswordSHA256: sum("pw1"), Revoked: true}})
	if _, ok := tab.Identity(tenant + ":d1:1"); ok {
		t.Fatal("a revoked device keeps its identity")
	}
	if kicks := tab.TakeKicks(); len(kicks) != 1 || kicks[0] != tenant+":d1:1" {
		t.Fatalf("kicks after revocation = %v", kicks)
	}
	if kicks := tab.TakeKicks(); len(kicks) != 0 {
		t.Fatalf("kicked twice: %v", kicks)
	}
}

// The syncer re-reads recent rows every interval; one that lands after a retirement
// came and before the broker's next tick must not lose the disconnect.
func TestRetirementKickSurvivesARereadBeforeTheTick(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tab := NewTable(nil, func() time.Time { return now })
	retire := now.Add(4 * time.Second)
	row := Row{Username: tenant + ":d1:1", TenantID: tenant, DeviceID: "d1", PasswordSHA256: sum("old"), RetireAt: &retire}
	tab.Apply([]Row{row})
	if kicks := tab.TakeKicks(); len(kicks) != 0 {
		t.Fatalf("kicked within its grace: %v", kicks)
	}
	now = retire.Add(100 * time.Millisecond)
	tab.Apply([]Row{row})
	if kicks := tab.TakeKicks(); len(kicks) != 1 || kicks[0] != row.Username {
		t.Fatalf("kicks after a re-read past the retirement = %v", kicks)
	}
	now = now.Add(time.Second)
	tab.Apply([]Row{row})
	if kicks := tab.TakeKicks(); len(kicks) != 0 {
		t.Fatalf("kicked twice: %v", kicks)
	}
}

func TestLookupOfAJustIssuedCredential(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tab := NewTable(nil, func() time.Time { return now })
	lookups := 0
	tab.SetLookup(func(username string) (Row, bool, error) {
		lookups++
		if username == tenant+":new:1" {
			return Row{Username: username, TenantID: tenant, DeviceID: "new", PasswordSHA256: sum("pw")}, true, nil
		}
		return Row{}, false, nil
	})
	if _, ok := tab.Authenticate(tenant+":new:1", "pw", tenant+":new"); !ok {
		t.Fatal("a credential issued since the last sync is refused")
	}
	if _, ok := tab.Authenticate(tenant+":new:1", "pw", tenant+":new"); !ok || lookups != 1 {
		t.Fatalf("second connect: lookups %d", lookups)
	}
	for i := 0; i < 100; i++ {
		tab.Authenticate(tenant+":ghost:1", "pw", tenant+":ghost")
	}
	if lookups != 2 {
		t.Fatalf("an unknown username is looked up %d times in a burst, want once", lookups-1)
	}
	for i := 0; i < 100; i++ {
		tab.Authenticate(tenant+":ghost:"+time.Duration(i + 2).String()[:1], "pw", "x")
		tab.Authenticate("not-a-device-username", "pw", "x")
	}
	if lookups > missBurst+2 {
		t.Fatalf("%d lookups in one instant: the broker's thread is not protected", lookups)
	}
}

func TestLookupPausesWhenTheDatabaseIsAway(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tab := NewTable(nil, func() time.Time { return now })
	lookups := 0
	tab.SetLookup(func(string) (Row, bool, error) { lookups++; return Row{}, false, context.DeadlineExceeded })
	for i := 0; i < 10; i++ {
		tab.Authenticate(tenant+":d:1", "pw", tenant+":d")
	}
	if lookups != 1 {
		t.Fatalf("%d lookups against a database that does not answer", lookups)
	}
	now = now.Add(missPause + time.Second)
	tab.Authenticate(tenant+":d:1", "pw", tenant+":d")
	if lookups != 2 {
		t.Fatalf("lookups did not resume: %d", lookups)
	}
}
