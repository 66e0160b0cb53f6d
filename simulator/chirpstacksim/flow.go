package chirpstacksim

import (
	"fmt"
	"slices"
	"time"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"go.uber.org/zap"
)

// Step is a FUOTA step in which ChirpStack exchanges unicast commands with each
// device; a device can fail or stay silent in any of them.
type Step int

const (
	// StepMcGroupSetup is the McGroupSetupReq/Ans exchange (TS005).
	StepMcGroupSetup Step = iota + 1
	// StepFragSessionSetup is the FragSessionSetupReq/Ans exchange (TS004).
	StepFragSessionSetup
	// StepMcSession is the McClassB/CSessionReq/Ans exchange (TS005).
	StepMcSession
	// StepFragStatus is the FragSessionStatusReq/Ans exchange (TS004); ChirpStack
	// runs it only when request_fragmentation_session_status is not NO_REQUEST.
	StepFragStatus
)

// String returns the name of the job that runs the step, as ListJobs shows it.
func (s Step) String() string {
	switch s {
	case StepMcGroupSetup:
		return jobMcGroupSetup.String()
	case StepFragSessionSetup:
		return jobFragSessionSetup.String()
	case StepMcSession:
		return jobMcSession.String()
	case StepFragStatus:
		return jobFragStatus.String()
	default:
		return fmt.Sprintf("Step(%d)", int(s))
	}
}

// jobKind is one of ChirpStack's FUOTA deployment jobs, in execution order.
type jobKind int

const (
	jobCreateMcGroup jobKind = iota + 1
	jobAddDevsToMcGroup
	jobAddGwsToMcGroup
	jobMcGroupSetup
	jobFragSessionSetup
	jobMcSession
	jobEnqueue
	jobFragStatus
	jobDeleteMcGroup
	jobComplete
)

func (j jobKind) String() string {
	switch j {
	case jobCreateMcGroup:
		return "CREATE_MC_GROUP"
	case jobAddDevsToMcGroup:
		return "ADD_DEVS_TO_MC_GROUP"
	case jobAddGwsToMcGroup:
		return "ADD_GWS_TO_MC_GROUP"
	case jobMcGroupSetup:
		return "MC_GROUP_SETUP"
	case jobFragSessionSetup:
		return "FRAG_SESSION_SETUP"
	case jobMcSession:
		return "MC_SESSION"
	case jobEnqueue:
		return "ENQUEUE"
	case jobFragStatus:
		return "FRAG_STATUS"
	case jobDeleteMcGroup:
		return "DELETE_MC_GROUP"
	case jobComplete:
		return "COMPLETE"
	default:
		return fmt.Sprintf("jobKind(%d)", int(j))
	}
}

// takesStep reports whether the job talks to devices and therefore costs one
// scheduler tick; the bookkeeping jobs around them run in the same tick.
func (j jobKind) takesStep() bool {
	switch j {
	case jobMcGroupSetup, jobFragSessionSetup, jobMcSession, jobEnqueue, jobFragStatus:
		return true
	default:
		return false
	}
}

// unicastStep describes one request/answer step: which timestamp it sets, which
// one it requires, and ChirpStack's messages for it.
type unicastStep struct {
	step        Step
	next        jobKind
	field       func(*fuotaDeviceRec) *time.Time
	prev        func(*fuotaDeviceRec) time.Time // nil for the first step
	timeoutMsg  string
	warningWhat string
	failMsg     string // what a device answering with an error gets
}

var unicastSteps = map[jobKind]unicastStep{
	jobMcGroupSetup: {
		step:        StepMcGroupSetup,
		next:        jobFragSessionSetup,
		field:       func(d *fuotaDeviceRec) *time.Time { return &d.mcGroupSetupAt },
		timeoutMsg:  "McGroupSetupReq timeout.",
		warningWhat: "multicast group setup",
		failMsg:     "Error: McGroupSetupAns response id_error=true",
	},
	jobFragSessionSetup: {
		step:        StepFragSessionSetup,
		next:        jobMcSession,
		field:       func(d *fuotaDeviceRec) *time.Time { return &d.fragSessionAt },
		prev:        func(d *fuotaDeviceRec) time.Time { return d.mcGroupSetupAt },
		timeoutMsg:  "FragSessionSetupReq timeout.",
		warningWhat: "fragmentation session setup",
		failMsg:     "Error: FragSessionAns response encoding_unsupported=false, not_enough_memory=true, frag_session_index_not_supported=false, wrong_descriptor=false",
	},
	jobMcSession: {
		step:        StepMcSession,
		next:        jobEnqueue,
		field:       func(d *fuotaDeviceRec) *time.Time { return &d.mcSessionAt },
		prev:        func(d *fuotaDeviceRec) time.Time { return d.fragSessionAt },
		timeoutMsg:  "McSessionReq timeout",
		warningWhat: "multicast session setup",
		failMsg:     "Error: McClassCSessionAns response dr_error: false, freq_error: true, mc_group_undefined: false",
	},
	jobFragStatus: {
		step:        StepFragStatus,
		next:        jobDeleteMcGroup,
		field:       func(d *fuotaDeviceRec) *time.Time { return &d.fragStatusAt },
		prev:        func(d *fuotaDeviceRec) time.Time { return d.mcSessionAt },
		timeoutMsg:  "FragStatusReq timeout.",
		warningWhat: "fragmentation status",
		failMsg:     "Error: FragSessionStatusAns response nb_frag_received=0, missing_frag=1, not_enough_matrix_memory=false",
	},
}

const errNoDevices = "There are no devices available to complete this step"

// deviceFault is the injected behaviour of one device in FUOTA steps.
type deviceFault struct {
	silent   bool
	failStep Step
	failMsg  string
}

// jobResult is what running a job decided: the next job and when it may run, or
// that the flow has ended.
type jobResult struct {
	next      jobKind
	runAfter  time.Time
	finished  bool
	completed []string // devices that completed the deployment without error
}

func (s *Server) runScheduler() {
	ticker := time.NewTicker(s.opts.StepInterval)
	defer ticker.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-ticker.C:
			s.tick(now)
		}
	}
}

// tick advances every running deployment, then runs the completion hooks outside
// the lock so they may call back into the server.
func (s *Server) tick(now time.Time) {
	s.mu.Lock()
	var completed []string
	for _, id := range sortedKeys(s.deployments) {
		dep := s.deployments[id]
		if dep.startedAt.IsZero() || !dep.completedAt.IsZero() {
			continue
		}
		completed = append(completed, s.advanceLocked(dep, now)...)
	}
	hooks := slices.Clone(s.hooks)
	s.mu.Unlock()

	for _, eui := range completed {
		for _, hook := range hooks {
			hook(eui)
		}
	}
}

// advanceLocked runs the deployment's due jobs until one that talks to devices
// has run or the next job is not due yet.
func (s *Server) advanceLocked(dep *deploymentRec, now time.Time) []string {
	for {
		if len(dep.jobs) == 0 {
			return nil
		}
		job := dep.jobs[len(dep.jobs)-1]
		if !job.completedAt.IsZero() || job.schedulerRunAfter.After(now) {
			return nil
		}
		res := s.runJobLocked(dep, job, now)
		switch {
		case res.finished:
			job.completedAt = now
			return res.completed
		case res.next == job.job:
			job.schedulerRunAfter = res.runAfter
			return nil
		}
		job.completedAt = now
		next := &fuotaJobRec{job: res.next, createdAt: now, schedulerRunAfter: res.runAfter}
		if _, ok := unicastSteps[res.next]; ok {
			next.maxRetryCount = dep.d.GetUnicastMaxRetryCount()
		}
		dep.jobs = append(dep.jobs, next)
		s.log.Debug("fuota job done",
			zap.String("deployment", dep.d.GetId()),
			zap.Stringer("job", job.job),
			zap.Stringer("next", res.next))
		if job.job.takesStep() {
			return nil
		}
	}
}

func (s *Server) runJobLocked(dep *deploymentRec, job *fuotaJobRec, now time.Time) jobResult {
	if spec, ok := unicastSteps[job.job]; ok {
		return s.runUnicastLocked(dep, job, spec, now)
	}
	// The remaining jobs have max_retry_count 0: a second attempt only happens
	// after an error, and then ChirpStack gives up on the job.
	switch job.job {
	case jobCreateMcGroup:
		if job.attemptCount > job.maxRetryCount {
			return jobResult{finished: true}
		}
		job.attemptCount++
		if err := s.appLayerErrorLocked(dep, StepMcGroupSetup); err != "" {
			job.errorMsg = err
			return jobResult{next: job.job, runAfter: now.Add(s.opts.StepInterval)}
		}
		return jobResult{next: jobAddDevsToMcGroup, runAfter: now}
	case jobAddDevsToMcGroup:
		if job.attemptCount > job.maxRetryCount {
			return jobResult{finished: true}
		}
		job.attemptCount++
		return jobResult{next: jobAddGwsToMcGroup, runAfter: now}
	case jobAddGwsToMcGroup:
		if job.attemptCount > job.maxRetryCount {
			return jobResult{finished: true}
		}
		job.attemptCount++
		return jobResult{next: jobMcGroupSetup, runAfter: now}
	case jobEnqueue:
		return s.runEnqueueLocked(dep, job, now)
	case jobDeleteMcGroup:
		if job.attemptCount <= job.maxRetryCount {
			job.attemptCount++
		}
		return jobResult{next: jobComplete, runAfter: now}
	case jobComplete:
		if job.attemptCount > job.maxRetryCount {
			return jobResult{finished: true}
		}
		job.attemptCount++
		return s.completeLocked(dep, job, now)
	default:
		return jobResult{finished: true}
	}
}

// runUnicastLocked sends the step's request to every device that finished the
// previous step but not this one. Healthy devices answer at once, failing ones
// answer with an error (and stay pending, as in ChirpStack), silent ones never
// answer. Pending devices make the job re-run after the deployment timeout until
// unicast_max_retry_count is exhausted; then they get ChirpStack's timeout error.
func (s *Server) runUnicastLocked(dep *deploymentRec, job *fuotaJobRec, spec unicastStep, now time.Time) jobResult {
	var pending []*fuotaDeviceRec
	prevDone := 0
	for _, eui := range sortedKeys(dep.devices) {
		fd := dep.devices[eui]
		if spec.prev != nil && spec.prev(fd).IsZero() {
			continue
		}
		prevDone++
		if spec.field(fd).IsZero() {
			pending = append(pending, fd)
		}
	}

	if job.attemptCount > job.maxRetryCount {
		for _, fd := range dep.devices {
			if spec.field(fd).IsZero() && fd.errorMsg == "" {
				fd.errorMsg = spec.timeoutMsg
			}
		}
		if len(pending) > 0 {
			job.warningMsg = fmt.Sprintf("%d devices did not complete the %s", len(pending), spec.warningWhat)
		}
		return jobResult{next: spec.next, runAfter: now}
	}
	job.attemptCount++

	if spec.prev != nil && prevDone == 0 {
		job.errorMsg = errNoDevices
		return jobResult{next: jobDeleteMcGroup, runAfter: now}
	}
	if err := s.appLayerErrorLocked(dep, spec.step); err != "" {
		job.errorMsg = err
		return jobResult{next: job.job, runAfter: now.Add(s.opts.StepInterval)}
	}

	waiting := 0
	for _, fd := range pending {
		f := s.faults[fd.devEUI]
		switch {
		case f.silent:
			waiting++
		case f.failStep == spec.step:
			fd.errorMsg = f.failMsg
			if fd.errorMsg == "" {
				fd.errorMsg = spec.failMsg
			}
			waiting++
		default:
			*spec.field(fd) = now
		}
	}
	if waiting > 0 {
		return jobResult{next: job.job, runAfter: now.Add(s.timeout(dep))}
	}
	return jobResult{next: spec.next, runAfter: now}
}

// runEnqueueLocked stands for sending the fragments to the multicast group. The
// session lasts the deployment timeout; when the status request waits for the
// session end (or is not made), the next job is due then.
func (s *Server) runEnqueueLocked(dep *deploymentRec, job *fuotaJobRec, now time.Time) jobResult {
	if job.attemptCount > job.maxRetryCount {
		return jobResult{next: jobFragStatus, runAfter: now}
	}
	job.attemptCount++
	inSession := 0
	for _, fd := range dep.devices {
		if !fd.mcSessionAt.IsZero() {
			inSession++
		}
	}
	if inSession == 0 {
		job.errorMsg = errNoDevices
		return jobResult{next: jobDeleteMcGroup, runAfter: now}
	}
	dep.sessionEnd = now.Add(s.timeout(dep))
	switch dep.d.GetRequestFragmentationSessionStatus() {
	case api.RequestFragmentationSessionStatus_AFTER_FRAGMENT_ENQUEUE:
		return jobResult{next: jobFragStatus, runAfter: now}
	case api.RequestFragmentationSessionStatus_AFTER_SESSION_TIMEOUT:
		return jobResult{next: jobFragStatus, runAfter: dep.sessionEnd}
	default: // NO_REQUEST
		return jobResult{next: jobDeleteMcGroup, runAfter: dep.sessionEnd}
	}
}

// completeLocked marks devices that passed every step as completed (the status
// step only counts when it was requested), tags them and completes the
// deployment.
func (s *Server) completeLocked(dep *deploymentRec, job *fuotaJobRec, now time.Time) jobResult {
	needStatus := dep.d.GetRequestFragmentationSessionStatus() != api.RequestFragmentationSessionStatus_NO_REQUEST
	var done []string
	for _, eui := range sortedKeys(dep.devices) {
		fd := dep.devices[eui]
		if fd.mcGroupSetupAt.IsZero() || fd.mcSessionAt.IsZero() || fd.fragSessionAt.IsZero() ||
			(needStatus && fd.fragStatusAt.IsZero()) {
			continue
		}
		fd.completedAt = now
		if fd.errorMsg == "" {
			s.applyCompletionTagsLocked(dep, eui)
			done = append(done, eui)
		}
	}
	if n := len(dep.devices) - len(done); n > 0 {
		job.warningMsg = fmt.Sprintf("%d devices did not complete the FUOTA deployment", n)
	}
	dep.completedAt = now
	dep.updatedAt = now
	s.log.Info("fuota deployment completed",
		zap.String("deployment", dep.d.GetId()),
		zap.Int("devices", len(dep.devices)),
		zap.Int("completed", len(done)))
	return jobResult{finished: true, completed: done}
}

// timeout is the deployment's multicast_timeout read as seconds and scaled by
// Options.TimeoutScale; a zero timeout waits one step interval.
func (s *Server) timeout(dep *deploymentRec) time.Duration {
	d := time.Duration(float64(dep.d.GetMulticastTimeout()) * float64(time.Second) * s.opts.TimeoutScale)
	if d <= 0 {
		return s.opts.StepInterval
	}
	return d
}

// appLayerErrorLocked returns ChirpStack's job error for a device profile
// without the app-layer package a step needs, when that check is enabled.
func (s *Server) appLayerErrorLocked(dep *deploymentRec, step Step) string {
	if !s.opts.EnforceAppLayerParams {
		return ""
	}
	p, ok := s.profiles[dep.d.GetDeviceProfileId()]
	if !ok {
		return "Error: Object does not exist (id: " + dep.d.GetDeviceProfileId() + ")"
	}
	params := p.p.GetAppLayerParams()
	switch step {
	case StepMcGroupSetup, StepMcSession:
		if params.GetTs005Version() == api.Ts005Version_TS005_NOT_IMPLEMENTED {
			return "Error: Device-profile does not support TS005"
		}
	case StepFragSessionSetup, StepFragStatus:
		if params.GetTs004Version() == api.Ts004Version_TS004_NOT_IMPLEMENTED {
			return "Error: Device-profile does not support TS004"
		}
	}
	return ""
}
