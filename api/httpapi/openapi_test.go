package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/otaplane/ota/api/openapi"
)

// ginParam is a path parameter in Gin's spelling (:id); OpenAPI spells it {id}.
var ginParam = regexp.MustCompile(`:([A-Za-z_]+)`)

// TestOpenAPIDescribesEveryRoute proves the description true both ways: every route
// under /api/v1 is described, and every described operation is a route.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	h := newTestRouter(t, readStore{})
	engine, ok := h.(*gin.Engine)
	require.True(t, ok)
	routes := map[string]bool{}
	for _, r := range engine.Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1/") {
			continue
		}
		routes[r.Method+" "+ginParam.ReplaceAllString(strings.TrimPrefix(r.Path, "/api/v1"), "{$1}")] = true
	}
	doc, err := openapi.Load()
	require.NoError(t, err)
	described := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			described[method+" "+path] = true
		}
	}
	require.Equal(t, sortedKeys(routes), sortedKeys(described),
		"routes (left) and the OpenAPI description (right) differ")
}

func TestOpenAPIIsServedWithoutAKey(t *testing.T) {
	h := newTestRouter(t, readStore{})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/v1/openapi.json", nil))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &doc))
	require.Equal(t, "3.0.3", doc.OpenAPI)
	require.Contains(t, doc.Paths, "/ota/campaigns/{id}/execute")
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
