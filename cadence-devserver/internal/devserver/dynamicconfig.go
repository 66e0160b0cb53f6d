package devserver

import (
	"time"

	"github.com/uber/cadence/common/dynamicconfig"
	"github.com/uber/cadence/common/dynamicconfig/dynamicproperties"
)

// systemLongPoll bounds the long polls of the worker service's own pollers
// (cadence-system domain). The frontend's gRPC graceful stop waits for every
// open poll, so with the default of one minute a stop would always hit its
// timeout; user domains keep the default.
const systemLongPoll = 3 * time.Second

// dynamicClient is the base dynamic config; the onebox layers its own
// overrides on top, but those cannot be scoped to a domain.
type dynamicClient struct {
	dynamicconfig.Client
}

func newDynamicClient() dynamicClient {
	return dynamicClient{Client: dynamicconfig.NewInMemoryClient()}
}

func (c dynamicClient) GetDurationValue(name dynamicproperties.DurationKey, filters map[dynamicproperties.Filter]interface{}) (time.Duration, error) {
	if name == dynamicproperties.MatchingLongPollExpirationInterval && filters[dynamicproperties.DomainName] == SystemDomain {
		return systemLongPoll, nil
	}
	return c.Client.GetDurationValue(name, filters)
}
