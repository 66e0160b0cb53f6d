// Command authplugin is Mosquitto's authentication and authorization plugin for the OTA
// control plane, built as a shared library (go build -buildmode=c-shared). It admits
// no anonymous client; a device only with its own active credential and client id, and
// only on its own topics; the worker fleet and ChirpStack with their configured
// credentials, on theirs (pkg/brokeridentity). Device credentials come from the control
// plane's database, read into memory and kept in step every sync_interval: a revoked
// device is refused its next message at once and disconnected.
//
// mosquitto.conf:
//
//	plugin /path/ota-mosquitto-auth.so
//	plugin_opt_database_dsn host=... dbname=ota ...
//	plugin_opt_worker_username ota-worker
//	plugin_opt_worker_password_sha256 <hex>
//	plugin_opt_chirpstack_username chirpstack           (optional)
//	plugin_opt_chirpstack_password_sha256 <hex>         (optional)
//	plugin_opt_sync_interval 500ms                      (optional)
package main

/*
#cgo LDFLAGS: -Wl,--unresolved-symbols=ignore-all
#include <stdlib.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

void ota_log(int level, const char *msg);
int ota_kick(const char *username);
*/
import "C"

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"
	"unsafe"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/otaplane/ota/broker/internal/identities"
	"github.com/otaplane/ota/pkg/brokeridentity"
)

var (
	table  *identities.Table
	cancel context.CancelFunc
	pool   *pgxpool.Pool
)

func logf(level C.int, format string, args ...any) {
	msg := C.CString(fmt.Sprintf(format, args...))
	defer C.free(unsafe.Pointer(msg))
	C.ota_log(level, msg)
}

//export goInit
func goInit(keys, values **C.char, n C.int) C.int {
	opts := map[string]string{}
	ks := unsafe.Slice(keys, int(n))
	vs := unsafe.Slice(values, int(n))
	for i := range ks {
		opts[C.GoString(ks[i])] = C.GoString(vs[i])
	}
	cfg, err := parseOptions(opts)
	if err != nil {
		logf(C.MOSQ_LOG_ERR, "ota-auth: %v", err)
		return C.MOSQ_ERR_INVAL
	}
	table = identities.NewTable(cfg.services, time.Now)
	pcfg, err := pgxpool.ParseConfig(cfg.dsn)
	if err != nil {
		logf(C.MOSQ_LOG_ERR, "ota-auth: database_dsn: %v", err)
		return C.MOSQ_ERR_INVAL
	}
	pcfg.MaxConns = 3
	if pool, err = pgxpool.NewWithConfig(context.Background(), pcfg); err != nil {
		logf(C.MOSQ_LOG_ERR, "ota-auth: database: %v", err)
		return C.MOSQ_ERR_INVAL
	}
	var ctx context.Context
	ctx, cancel = context.WithCancel(context.Background())
	syncer := &identities.Syncer{Pool: pool, Table: table, Interval: cfg.interval,
		Log: func(msg string) { logf(C.MOSQ_LOG_WARNING, "%s", msg) }}
	table.SetLookup(syncer.Lookup)
	go syncer.Run(ctx)
	logf(C.MOSQ_LOG_NOTICE, "ota-auth: per-device identities from the control plane's database, services %v", cfg.names())
	return C.MOSQ_ERR_SUCCESS
}

//export goCleanup
func goCleanup() {
	if cancel != nil {
		cancel()
	}
	if pool != nil {
		pool.Close()
	}
}

//export goBasicAuth
func goBasicAuth(clientID, username, password *C.char) C.int {
	if username == nil || password == nil {
		return C.MOSQ_ERR_AUTH
	}
	if _, ok := table.Authenticate(C.GoString(username), C.GoString(password), C.GoString(clientID)); !ok {
		return C.MOSQ_ERR_AUTH
	}
	return C.MOSQ_ERR_SUCCESS
}

//export goACLCheck
func goACLCheck(username, topic *C.char, access C.int) C.int {
	if username == nil || topic == nil {
		return C.MOSQ_ERR_ACL_DENIED
	}
	id, ok := table.Identity(C.GoString(username))
	if !ok {
		return C.MOSQ_ERR_ACL_DENIED
	}
	var a brokeridentity.Access
	switch access {
	case C.MOSQ_ACL_READ:
		a = brokeridentity.Read
	case C.MOSQ_ACL_WRITE:
		a = brokeridentity.Write
	case C.MOSQ_ACL_SUBSCRIBE:
		a = brokeridentity.Subscribe
	case C.MOSQ_ACL_UNSUBSCRIBE:
		a = brokeridentity.Unsubscribe
	default:
		return C.MOSQ_ERR_ACL_DENIED
	}
	if !brokeridentity.Allowed(id, C.GoString(topic), a) {
		return C.MOSQ_ERR_ACL_DENIED
	}
	return C.MOSQ_ERR_SUCCESS
}

//export goTick
func goTick() {
	for _, u := range table.TakeKicks() {
		cu := C.CString(u)
		C.ota_kick(cu)
		C.free(unsafe.Pointer(cu))
		logf(C.MOSQ_LOG_NOTICE, "ota-auth: %s disconnected: its credential was revoked or retired", u)
	}
}

func main() {}

// options is the plugin's validated configuration.
type options struct {
	dsn      string
	services []identities.Service
	interval time.Duration
}

func (o options) names() []string {
	out := make([]string, len(o.services))
	for i, s := range o.services {
		out[i] = s.Username
	}
	return out
}

func parseOptions(opts map[string]string) (options, error) {
	o := options{dsn: opts["database_dsn"], interval: 500 * time.Millisecond}
	if o.dsn == "" {
		return o, fmt.Errorf("plugin_opt_database_dsn is required")
	}
	if v := opts["sync_interval"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 100*time.Millisecond {
			return o, fmt.Errorf("plugin_opt_sync_interval %q: want a duration of at least 100ms", v)
		}
		o.interval = d
	}
	for _, s := range []struct {
		prefix   string
		kind     brokeridentity.Kind
		required bool
	}{{"worker", brokeridentity.KindWorker, true}, {"chirpstack", brokeridentity.KindChirpStack, false}} {
		user, sum := opts[s.prefix+"_username"], opts[s.prefix+"_password_sha256"]
		if user == "" && !s.required {
			continue
		}
		raw, err := hex.DecodeString(sum)
		if user == "" || err != nil || len(raw) != 32 {
			return o, fmt.Errorf("plugin_opt_%s_username and plugin_opt_%s_password_sha256 (64 hex digits) are required",
				s.prefix, s.prefix)
		}
		svc := identities.Service{Username: user, Kind: s.kind}
		copy(svc.PasswordSHA256[:], raw)
		o.services = append(o.services, svc)
	}
	return o, nil
}
