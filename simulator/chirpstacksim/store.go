package chirpstacksim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"github.com/chirpstack/chirpstack/api/go/v4/common"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The records below hold the server's state; all of them are guarded by Server.mu.
// Protobuf messages are stored as private clones so callers can never alias them.

type tenantRec struct {
	t                    *api.Tenant
	createdAt, updatedAt time.Time
}

type applicationRec struct {
	a                    *api.Application
	createdAt, updatedAt time.Time
}

type profileRec struct {
	p                    *api.DeviceProfile
	createdAt, updatedAt time.Time
}

type keysRec struct {
	k                    *api.DeviceKeys
	createdAt, updatedAt time.Time
}

type deviceRec struct {
	d                    *api.Device
	createdAt, updatedAt time.Time
	lastSeenAt           time.Time
	status               *api.DeviceStatus
	classEnabled         common.DeviceClass
	keys                 *keysRec
	activation           *api.DeviceActivation
	queue                []*api.DeviceQueueItem
	fCntUp, fCntDown     uint32
}

type fuotaDeviceRec struct {
	devEUI         string
	createdAt      time.Time
	completedAt    time.Time
	mcGroupSetupAt time.Time
	mcSessionAt    time.Time
	fragSessionAt  time.Time
	fragStatusAt   time.Time
	errorMsg       string
}

type fuotaJobRec struct {
	job               jobKind
	createdAt         time.Time
	completedAt       time.Time
	schedulerRunAfter time.Time
	maxRetryCount     uint32
	attemptCount      uint32
	warningMsg        string
	errorMsg          string
}

type deploymentRec struct {
	d                    *api.FuotaDeployment
	createdAt, updatedAt time.Time
	startedAt            time.Time
	completedAt          time.Time
	sessionEnd           time.Time
	devices              map[string]*fuotaDeviceRec
	gateways             map[string]time.Time
	jobs                 []*fuotaJobRec
}

func clone[M proto.Message](m M) M {
	return proto.Clone(m).(M)
}

// pbTime converts a zero time to nil, as ChirpStack leaves unset timestamps empty.
func pbTime(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

var (
	uuidRE   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	eui64RE  = regexp.MustCompile(`^[0-9a-fA-F]{16}$`)
	key128RE = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)
)

func isUUID(s string) bool { return uuidRE.MatchString(s) }

// parseUUID validates an ID the way ChirpStack's Uuid::from_str does: a malformed
// ID is InvalidArgument, never NotFound. IDs are kept lower-case.
func parseUUID(field, s string) (string, error) {
	if !isUUID(s) {
		return "", status.Errorf(codes.InvalidArgument, "invalid %s %q: expected a UUID", field, s)
	}
	return strings.ToLower(s), nil
}

// parseEUI64 accepts 16 hex characters and returns them lower-case, the form
// ChirpStack stores and returns.
func parseEUI64(field, s string) (string, error) {
	if !eui64RE.MatchString(s) {
		return "", status.Errorf(codes.InvalidArgument, "invalid %s %q: expected 16 hex characters", field, s)
	}
	return strings.ToLower(s), nil
}

func parseKey(field, s string) (string, error) {
	if !key128RE.MatchString(s) {
		return "", status.Errorf(codes.InvalidArgument, "invalid %s: expected 32 hex characters", field)
	}
	return strings.ToLower(s), nil
}

func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("chirpstacksim: crypto/rand: %v", err))
	}
	b[6] = (b[6] & 0x0f) | 0x40 // version 4
	b[8] = (b[8] & 0x3f) | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("chirpstacksim: crypto/rand: %v", err))
	}
	return hex.EncodeToString(b)
}

// lookupLocked parses an id or DevEUI with parse, takes the server lock and finds the
// record in records. On success the caller holds s.mu and must unlock it; on error
// the lock is not held.
func lookupLocked[R any](s *Server, records map[string]R, parse func(field, raw string) (string, error),
	field, raw string) (string, R, error) {
	var none R
	key, err := parse(field, raw)
	if err != nil {
		return "", none, err
	}
	s.mu.Lock()
	rec, ok := records[key]
	if !ok {
		s.mu.Unlock()
		return "", none, errNotFound(key)
	}
	return key, rec, nil
}

// addTenantOwned stores a new tenant-owned record (application, device profile) the way
// ChirpStack does: the id is generated when empty, both ids must be UUIDs, the tenant
// must exist and the id must be free. id and tenantID are normalised in place.
func addTenantOwned[R any](s *Server, records map[string]R, id, tenantID *string, newRec func(now time.Time) R) (string, error) {
	if *id == "" {
		*id = newUUID()
	}
	var err error
	if *id, err = parseUUID("id", *id); err != nil {
		return "", err
	}
	if *tenantID, err = parseUUID("tenant_id", *tenantID); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tenants[*tenantID]; !ok {
		return "", errNotFound(*tenantID)
	}
	if _, ok := records[*id]; ok {
		return "", errAlreadyExists(*id)
	}
	records[*id] = newRec(time.Now())
	return *id, nil
}

// Status texts copy ChirpStack's storage errors so clients that log or match on
// them see the familiar wording.
func errNotFound(id string) error {
	return status.Errorf(codes.NotFound, "Object does not exist (id: %s)", id)
}

func errAlreadyExists(id string) error {
	return status.Errorf(codes.AlreadyExists, "Object already exists (id: %s)", id)
}

// page applies ChirpStack's limit/offset semantics: the limit is taken literally,
// so a request without a limit returns no rows (only the total count).
func page[T any](items []T, limit, offset uint32) []T {
	if int(offset) >= len(items) {
		return nil
	}
	items = items[offset:]
	if int(limit) < len(items) {
		items = items[:limit]
	}
	return items
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func containsFold(s, substr string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(substr))
}
