package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otaplane/ota/pkg/store"
)

func TestWriteRowErrors(t *testing.T) {
	many := make([]store.RowError, maxReportedRowErrors+500)
	for i := range many {
		many[i] = store.RowError{Row: i + 2, Field: "id", Message: "bad"}
	}
	tests := []struct {
		name    string
		rows    []store.RowError
		message string
		listed  int
	}{
		{"one", []store.RowError{{Row: 3, Field: "firmware_version", Message: "bad"}},
			"1 problem in 1 row; nothing was imported", 1},
		{"two in one row", []store.RowError{{Row: 3, Field: "id"}, {Row: 3, Field: "labels"}, {Row: 5, Field: "id"}},
			"3 problems in 2 rows; nothing was imported", 3},
		{"capped", many, "1500 problems in 1500 rows; nothing was imported (the first 1000 are listed)", maxReportedRowErrors},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(w)
			writeRowErrors(c, tt.rows)
			require.Equal(t, http.StatusBadRequest, w.Code)
			var body struct {
				Error errorBody        `json:"error"`
				Rows  []store.RowError `json:"rows"`
			}
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
			assert.Equal(t, "rows", body.Error.Field)
			assert.Equal(t, "invalid_argument", body.Error.Code)
			assert.Equal(t, tt.message, body.Error.Message)
			assert.Len(t, body.Rows, tt.listed)
			assert.Equal(t, tt.rows[0], body.Rows[0])
		})
	}
}
