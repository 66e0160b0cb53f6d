package httpapi

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEveryRouteHasARule: the role table and the router list the same routes, and every
// route that changes state is audited.
func TestEveryRouteHasARule(t *testing.T) {
	s := &Server{}
	registered := map[string]bool{}
	for _, r := range s.router().Routes() {
		name := r.Method + " " + r.Path
		registered[name] = true
		rule, ok := routeRules[name]
		if !assert.True(t, ok, "route %s has no entry in routeRules", name) {
			continue
		}
		if rule.guard == guardTenant {
			assert.True(t, rule.role.Valid(), "route %s has no role", name)
			if r.Method != http.MethodGet {
				assert.True(t, rule.changesState(), "write route %s names no audit action", name)
			} else {
				assert.False(t, rule.changesState(), "read route %s is audited", name)
			}
		}
	}
	for name := range routeRules {
		assert.True(t, registered[name], "routeRules lists %s, which the router does not register", name)
	}
	require.NotEmpty(t, registered)
}
