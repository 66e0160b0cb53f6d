package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/otaplane/ota/api/openapi"
)

// openAPI serves the API's description; it needs no key, so tools can read it first.
func (s *Server) openAPI(c *gin.Context) {
	b, err := openapi.JSON()
	if err != nil {
		s.log.Error("the embedded OpenAPI description does not load", zap.Error(err))
		writeError(c, http.StatusInternalServerError, "internal", "the API description is unavailable", "")
		return
	}
	c.Data(http.StatusOK, "application/json", b)
}
