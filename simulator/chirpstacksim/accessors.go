package chirpstacksim

import (
	"sort"
	"strings"
	"time"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
)

// Device returns a copy of the device, or false when it does not exist.
func (s *Server) Device(devEUI string) (*api.Device, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.devices[strings.ToLower(devEUI)]
	if !ok {
		return nil, false
	}
	return clone(rec.d), true
}

// Devices returns copies of all devices ordered by DevEUI.
func (s *Server) Devices() []*api.Device {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*api.Device, 0, len(s.devices))
	for _, eui := range sortedKeys(s.devices) {
		out = append(out, clone(s.devices[eui].d))
	}
	return out
}

// DeviceKeys returns a copy of the device's OTAA keys, or false when the device or
// its keys do not exist.
func (s *Server) DeviceKeys(devEUI string) (*api.DeviceKeys, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.devices[strings.ToLower(devEUI)]
	if !ok || rec.keys == nil {
		return nil, false
	}
	return clone(rec.keys.k), true
}

// DeviceQueue returns copies of the device's downlink queue items in order.
func (s *Server) DeviceQueue(devEUI string) []*api.DeviceQueueItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.devices[strings.ToLower(devEUI)]
	if !ok {
		return nil
	}
	out := make([]*api.DeviceQueueItem, 0, len(rec.queue))
	for _, qi := range rec.queue {
		out = append(out, clone(qi))
	}
	return out
}

// DeploymentState is a snapshot of a FUOTA deployment, shaped like the API's
// answers. Zero times are unset timestamps.
type DeploymentState struct {
	Deployment  *api.FuotaDeployment
	CreatedAt   time.Time
	UpdatedAt   time.Time
	StartedAt   time.Time
	CompletedAt time.Time
	Devices     []*api.FuotaDeploymentDeviceListItem // ordered by DevEUI
	Gateways    []string
	Jobs        []*api.FuotaDeploymentJob // in execution order
}

// Device returns the deployment's entry for devEUI, or nil.
func (st DeploymentState) Device(devEUI string) *api.FuotaDeploymentDeviceListItem {
	devEUI = strings.ToLower(devEUI)
	for _, d := range st.Devices {
		if d.GetDevEui() == devEUI {
			return d
		}
	}
	return nil
}

// Deployment returns a snapshot of the deployment, or false when it does not exist.
func (s *Server) Deployment(id string) (DeploymentState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dep, ok := s.deployments[strings.ToLower(id)]
	if !ok {
		return DeploymentState{}, false
	}
	return dep.snapshot(), true
}

// Deployments returns snapshots of all deployments, oldest first.
func (s *Server) Deployments() []DeploymentState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]DeploymentState, 0, len(s.deployments))
	for _, dep := range s.deployments {
		out = append(out, dep.snapshot())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out
}

func (dep *deploymentRec) snapshot() DeploymentState {
	return DeploymentState{
		Deployment:  clone(dep.d),
		CreatedAt:   dep.createdAt,
		UpdatedAt:   dep.updatedAt,
		StartedAt:   dep.startedAt,
		CompletedAt: dep.completedAt,
		Devices:     dep.deviceItems(),
		Gateways:    sortedKeys(dep.gateways),
		Jobs:        dep.jobItems(),
	}
}

// FailDevice makes the device answer step with an error in every FUOTA
// deployment: it gets error_msg msg (ChirpStack's wording for the step when msg is
// empty) and no timestamp, so it progresses no further. Like ChirpStack, the step
// keeps retrying until unicast_max_retry_count before it moves on. The fault may
// be set before the device exists; it replaces any earlier fault.
func (s *Server) FailDevice(devEUI string, step Step, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[strings.ToLower(devEUI)] = deviceFault{failStep: step, failMsg: msg}
}

// SilenceDevice makes the device stop answering FUOTA requests from now on: it
// keeps the timestamps of steps already done and times out in the next one with
// ChirpStack's "...Req timeout" error_msg, once the deployment's timeout and
// retries are used up.
func (s *Server) SilenceDevice(devEUI string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[strings.ToLower(devEUI)] = deviceFault{silent: true}
}

// ClearDeviceFaults undoes FailDevice and SilenceDevice for the device.
func (s *Server) ClearDeviceFaults(devEUI string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.faults, strings.ToLower(devEUI))
}
