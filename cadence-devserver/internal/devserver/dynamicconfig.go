package devserver

import (
	"time"

	"github.com/uber/cadence/common/dynamicconfig"
	"github.com/uber/cadence/common/dynamicconfig/dynamicproperties"
)

// systemLongPoll bounds the long polls of the worker service's own pollers
// (cadence-system domain). The frontend's gRPC graceful stop waits for every
// open poll, so with the default of one minute a stop would always hit its
// timeout.
const systemLongPoll = 3 * time.Second

// userLongPoll bounds every other long poll. A Go-client worker sends all its
// decision pollers to its sticky task list while the last sticky task it got came
// with a backlog hint — and the hint counts the task being handed over — so they
// wait there for a whole poll while new runs' first decisions queue on the normal
// task list. With the default minute whole campaigns stalled; a short poll bounds
// the stall.
const userLongPoll = 5 * time.Second

// dynamicClient is the base dynamic config; the onebox layers its own
// overrides on top, but those cannot be scoped to a domain.
type dynamicClient struct {
	dynamicconfig.Client
}

func newDynamicClient() dynamicClient {
	return dynamicClient{Client: dynamicconfig.NewInMemoryClient()}
}

func (c dynamicClient) GetDurationValue(name dynamicproperties.DurationKey, filters map[dynamicproperties.Filter]interface{}) (time.Duration, error) {
	if name == dynamicproperties.MatchingLongPollExpirationInterval {
		if filters[dynamicproperties.DomainName] == SystemDomain {
			return systemLongPoll, nil
		}
		return userLongPoll, nil
	}
	return c.Client.GetDurationValue(name, filters)
}
