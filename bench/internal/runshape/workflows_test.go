package runshape

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/cadence/testsuite"
	"go.uber.org/cadence/workflow"
)

// recordingSteps records which devices were commanded and recorded.
type recordingSteps struct {
	mu                  sync.Mutex
	commanded, recorded []string
}

func (s *recordingSteps) Check(context.Context, string) (bool, error) { return true, nil }

func (s *recordingSteps) Command(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commanded = append(s.commanded, id)
	return nil
}

func (s *recordingSteps) Record(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recorded = append(s.recorded, id)
	return nil
}

func newEnv(t *testing.T, s *recordingSteps) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	shapes := &workflows{steps: s}
	env.RegisterWorkflowWithOptions(shapes.PerDevice, workflow.RegisterOptions{Name: perDeviceWorkflow})
	env.RegisterWorkflowWithOptions(shapes.Group, workflow.RegisterOptions{Name: groupWorkflow})
	return env
}

func TestGroupRecordsEachDeviceWhenItsOwnReportArrives(t *testing.T) {
	s := &recordingSteps{}
	env := newEnv(t, s)
	// b answers first, a report for a device outside the group changes nothing, a last.
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(reportSignal, deviceReport{DeviceID: "b"})
		env.SignalWorkflow(reportSignal, deviceReport{DeviceID: "stranger"})
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		s.mu.Lock()
		require.Equal(t, []string{"b"}, s.recorded, "only the device that answered is recorded")
		s.mu.Unlock()
		env.SignalWorkflow(reportSignal, deviceReport{DeviceID: "a"})
	}, 2*time.Minute)
	env.ExecuteWorkflow(groupWorkflow, []string{"a", "b"})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	slices.Sort(s.commanded)
	require.Equal(t, []string{"a", "b"}, s.commanded)
	require.Equal(t, []string{"b", "a"}, s.recorded)
}

func TestGroupDeviceThatNeverAnswersEndsAtItsTimer(t *testing.T) {
	s := &recordingSteps{}
	env := newEnv(t, s)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(reportSignal, deviceReport{DeviceID: "a"}) }, time.Minute)
	env.ExecuteWorkflow(groupWorkflow, []string{"a", "silent"})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"a", "silent"}, s.recorded, "the silent device is recorded when its timer ends the wait")
}

func TestGroupTakesSeveralReportsInOneSignal(t *testing.T) {
	s := &recordingSteps{}
	env := newEnv(t, s)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(reportsSignal, []deviceReport{{DeviceID: "b"}, {DeviceID: "stranger"}, {DeviceID: "a"}})
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		recorded := slices.Clone(s.recorded)
		slices.Sort(recorded)
		require.Equal(t, []string{"a", "b"}, recorded, "both devices the signal named, and only they, are recorded")
	}, 2*time.Minute)
	env.ExecuteWorkflow(groupWorkflow, []string{"a", "b", "c"})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, s.recorded, 3)
	require.Equal(t, "c", s.recorded[2], "c, which no signal named, is recorded at its timer")
}

func TestPerDeviceRecordsOnItsReport(t *testing.T) {
	s := &recordingSteps{}
	env := newEnv(t, s)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(reportSignal, deviceReport{DeviceID: "a"}) }, time.Minute)
	env.ExecuteWorkflow(perDeviceWorkflow, "a")
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"a"}, s.commanded)
	require.Equal(t, []string{"a"}, s.recorded)
}
