package devserver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uber/cadence/common/dynamicconfig"
	"github.com/uber/cadence/common/dynamicconfig/dynamicproperties"
	"github.com/uber/cadence/common/log"
	"go.uber.org/zap"
)

func TestLongPollsAreShortForUserDomains(t *testing.T) {
	c := newDynamicClient()
	for _, tc := range []struct {
		domain string
		want   time.Duration
	}{
		{SystemDomain, systemLongPoll},
		{"ota-tenant", userLongPoll},
	} {
		got, err := c.GetDurationValue(dynamicproperties.MatchingLongPollExpirationInterval,
			map[dynamicproperties.Filter]interface{}{dynamicproperties.DomainName: tc.domain})
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, tc.domain)
	}
}

// The docker-compose Cadence server reads configs/cadence/dynamicconfig.yaml with
// Cadence's own file-based client; a typo there would silently keep a default.
func TestComposeDynamicConfigParses(t *testing.T) {
	done := make(chan struct{})
	defer close(done)
	c, err := dynamicconfig.NewFileBasedClient(&dynamicconfig.FileBasedClientConfig{
		Filepath: "../../../configs/cadence/dynamicconfig.yaml"}, log.NewLogger(zap.NewNop()), done)
	require.NoError(t, err)

	poll, err := c.GetDurationValue(dynamicproperties.MatchingLongPollExpirationInterval,
		map[dynamicproperties.Filter]interface{}{dynamicproperties.DomainName: "ota-tenant"})
	require.NoError(t, err)
	assert.Equal(t, 10*time.Second, poll)
	for _, key := range []dynamicproperties.StringKey{dynamicproperties.WriteVisibilityStoreName, dynamicproperties.ReadVisibilityStoreName} {
		v, err := c.GetStringValue(key, nil)
		require.NoError(t, err)
		assert.Equal(t, "db", v, key.String())
	}
}
