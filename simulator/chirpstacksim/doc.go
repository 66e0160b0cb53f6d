// Package chirpstacksim is a stateful, in-memory ChirpStack v4 server for tests.
// It serves the official gRPC services of github.com/chirpstack/chirpstack/api/go/v4
// (TenantService reads, ApplicationService, DeviceProfileService, DeviceService,
// FuotaService), runs FUOTA deployments through ChirpStack's job sequence and
// publishes integration events to an MQTT broker. Unimplemented methods answer
// codes.Unimplemented.
//
// Typical use:
//
//	srv := chirpstacksim.New(chirpstacksim.Options{
//		APIToken:     "secret",
//		StepInterval: 20 * time.Millisecond,
//		TimeoutScale: 0.05,
//		BrokerURL:    "tcp://127.0.0.1:1883",
//	})
//	if err := srv.Start("127.0.0.1:0"); err != nil { ... }
//	defer srv.Stop()
//	appID, _ := srv.AddApplication(&api.Application{Name: "ota", TenantId: srv.TenantID()})
//	dpID, _ := srv.AddDeviceProfile(chirpstacksim.FUOTADeviceProfile(srv.TenantID(), "class-c"))
//
// # Authentication
//
// Every call must carry the metadata `authorization: Bearer <APIToken>`, which is
// how ChirpStack authenticates API keys; anything else is codes.Unauthenticated.
//
// # Behaviour shared with ChirpStack
//
// IDs are UUIDs (malformed ones are InvalidArgument), EUIs and keys are hex and
// returned lower-case, unknown objects are NotFound with ChirpStack's message,
// duplicates are AlreadyExists, and list calls take limit literally: a request
// without a limit returns the total count and no rows. Deleting an application
// deletes its devices and deployments; deleting a device removes it from
// deployments. A started deployment can no longer be updated, started again or
// given devices or gateways (FailedPrecondition).
//
// Devices: an unknown application is NotFound; an unknown device profile, or one
// of another tenant, is InvalidArgument (ChirpStack fails on the foreign key).
// Empty OTAA keys are stored as 32 zeros, as ChirpStack does.
//
// FUOTA deployments: CreateDeployment needs an existing application (NotFound)
// and device profile (NotFound) of the same tenant. It is stricter than ChirpStack
// where ChirpStack would accept a deployment and then fail in its job flow: the
// payload must not be empty, the fragment size must be 1-255 (unless calculated),
// multicast_timeout 0-15 (unless calculated), multicast_dr 0-15, the frequency
// set, the Class-B ping-slot periodicity 0-7 and the descriptor 0 or 4 bytes.
// AddDevices requires every device to exist in the deployment's application with
// the deployment's device profile, otherwise InvalidArgument ("All devices must
// have the same device-profile as the FUOTA deployment") and nothing is added.
//
// # FUOTA timing
//
// StartDeployment sets started_at and queues ChirpStack's jobs, which ListJobs
// shows with attempt_count, max_retry_count, scheduler_run_after, completed_at,
// warning_msg and error_msg:
//
//	CREATE_MC_GROUP, ADD_DEVS_TO_MC_GROUP, ADD_GWS_TO_MC_GROUP,
//	MC_GROUP_SETUP, FRAG_SESSION_SETUP, MC_SESSION, ENQUEUE, [FRAG_STATUS],
//	DELETE_MC_GROUP, COMPLETE
//
// A scheduler ticks every Options.StepInterval. Each job that talks to devices
// (MC_GROUP_SETUP, FRAG_SESSION_SETUP, MC_SESSION, ENQUEUE, FRAG_STATUS) takes one
// tick; the bookkeeping jobs run in the same tick as their neighbour. With only
// healthy devices and request_fragmentation_session_status AFTER_FRAGMENT_ENQUEUE
// a deployment completes in six ticks.
//
// In a unicast step (MC_GROUP_SETUP, FRAG_SESSION_SETUP, MC_SESSION, FRAG_STATUS)
// every device that finished the previous step is asked; healthy devices answer
// at once and get the step's *_completed_at timestamp. Devices marked with
// FailDevice answer with an error (error_msg set, no timestamp) and devices marked
// with SilenceDevice do not answer. While such devices are pending the job re-runs
// after the deployment timeout, unicast_max_retry_count times; then the silent
// ones get ChirpStack's timeout error ("McGroupSetupReq timeout.",
// "FragSessionSetupReq timeout.", "McSessionReq timeout", "FragStatusReq
// timeout.") and the job's warning_msg counts the devices left behind. The
// deployment timeout is multicast_timeout read as seconds times
// Options.TimeoutScale (one step interval when zero); ChirpStack instead waits the
// device profile's uplink interval between retries and reads multicast_timeout as
// 2^n seconds (Class-C).
//
// ENQUEUE starts the multicast session, which lasts the deployment timeout.
// FRAG_STATUS follows at once for AFTER_FRAGMENT_ENQUEUE, after the session for
// AFTER_SESSION_TIMEOUT, and is skipped for NO_REQUEST (the proto default): then
// frag_status_completed_at stays unset and COMPLETE does not require it.
// COMPLETE sets completed_at on every device that passed all required steps, adds
// on_complete_set_device_tags to those without error, sets the deployment's
// completed_at and calls the OnFUOTAComplete hooks for them.
//
// With Options.EnforceAppLayerParams a deployment whose device profile lacks
// TS005 (or TS004) fails its first job with ChirpStack's error and never
// completes, as in ChirpStack.
//
// # Integration events
//
// The Publish methods send ChirpStack's integration messages (integration.UplinkEvent,
// JoinEvent, StatusEvent, AckEvent, TxAckEvent, LogEvent) on ChirpStack's default
// topic application/{application_id}/device/{dev_eui}/event/{up|join|status|ack|txack|log}.
// With EncodingJSON they are protojson with EmitUnpopulated: ChirpStack serialises
// them with pbjson built with emit_fields (api/rust/build.rs), which gives the
// proto JSON mapping's lowerCamelCase names ("deviceInfo", "fPort"), enum names,
// base64 bytes and default values included. Decode them with protojson into the
// integration types. EncodingProtobuf sends the binary encoding (ChirpStack's
// json=false).
package chirpstacksim
