package auditlog

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// FuzzSummarize: any body and query give a small JSON object that never contains the
// value of a secret field.
func FuzzSummarize(f *testing.F) {
	f.Add([]byte(`{"name":"k","secret":"s3cr3t-value"}`), "a=1&b=2")
	f.Add([]byte(`[1,2]`), "")
	f.Add([]byte(`{"password":"s3cr3t-value","x":{"y":1}}`), "token=s3cr3t-value")
	f.Add([]byte(`{"a":{"token":"s3cr3t-value"}}`), "")
	f.Fuzz(func(t *testing.T, body []byte, rawQuery string) {
		q, _ := url.ParseQuery(rawQuery)
		out := Summarize(body, q)
		if !json.Valid(out) {
			t.Fatalf("summary is not JSON: %q", out)
		}
		if strings.Contains(string(out), `\u0000`) {
			t.Fatalf("summary PostgreSQL cannot store: %q", out)
		}
		if len(out) > 64<<10 {
			t.Fatalf("summary of %d bytes", len(out))
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) == nil {
			for k, v := range obj {
				if IsSecretField(k) && len(v) > 8 && strings.Contains(string(out), string(v)) {
					t.Fatalf("secret field %q leaked: %s", k, out)
				}
			}
		}
	})
}
