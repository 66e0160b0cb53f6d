package httpapi

import (
	"sort"

	"github.com/gin-gonic/gin"

	"github.com/otaplane/ota/pkg/model"
)

// maxParamLen bounds one path parameter or query value; ids and cursors are far shorter.
const maxParamLen = 1024

// requireTextParams refuses path parameters and query values that are not text (invalid
// UTF-8, control characters): ids and cursors reach SQL, and PostgreSQL cannot even
// compare a NUL. The field named is the parameter's name.
func (s *Server) requireTextParams(c *gin.Context) {
	for _, p := range c.Params {
		if err := model.ValidateText(p.Key, p.Value, maxParamLen); err != nil {
			s.fail(c, err)
			return
		}
	}
	q := c.Request.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the same bad request names the same parameter every time
	for _, k := range keys {
		for _, v := range q[k] {
			if err := model.ValidateText(k, v, maxParamLen); err != nil {
				s.fail(c, err)
				return
			}
		}
	}
	c.Next()
}
