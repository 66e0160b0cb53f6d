package auditlog

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

func TestIsSecretField(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"secret", true},
		{"Password", true},
		{"api_token", true},
		{"private_key", true},
		{"name", false},
		{"role", false},
		{"expires_at", false},
		{"firmware_id", false},
	}
	for _, tt := range tests {
		if got := IsSecretField(tt.name); got != tt.want {
			t.Errorf("IsSecretField(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	long := strings.Repeat("x", 400)
	tests := []struct {
		name  string
		body  string
		query url.Values
		want  string
	}{
		{"empty", "", nil, `{}`},
		{"fields kept", `{"name":"ci","role":"operator"}`, nil, `{"body":{"name":"ci","role":"operator"}}`},
		{"secret redacted", `{"name":"hook","secret":"whsec_abc"}`, nil, `{"body":{"name":"hook","secret":"[redacted]"}}`},
		{"nested value kept", `{"rollout":{"waves":[1,2]}}`, nil, `{"body":{"rollout":{"waves":[1,2]}}}`},
		{"nested secret redacted", `{"chirpstack":{"url":"u","api_token":"t"},"l":[{"password":"p"}]}`, nil,
			`{"body":{"chirpstack":{"url":"u","api_token":"[redacted]"},"l":[{"password":"[redacted]"}]}}`},
		{"long value replaced by its size", `{"device_ids":"` + long + `"}`, nil, `{"body":{"device_ids":"<402 bytes>"}}`},
		{"not an object", `[1,2,3]`, nil, `{"body_bytes":7}`},
		{"query", "", url.Values{"grace": {"5s"}}, `{"query":{"grace":"5s"}}`},
		{"NUL made storable", `{"name":"a\u0000b","x\u0000":1}`, nil, `{"body":{"name":"a\ufffdb","x\ufffd":1}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Summarize([]byte(tt.body), tt.query)
			if !jsonEqual(t, got, []byte(tt.want)) {
				t.Errorf("Summarize = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestSummarizeBoundsFieldCount(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("{")
	for i := range 100 {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString(`"f` + strings.Repeat("0", 3-len(itoa(i))) + itoa(i) + `":1`)
	}
	sb.WriteString("}")
	var out struct {
		Body map[string]any `json:"body"`
	}
	if err := json.Unmarshal(Summarize([]byte(sb.String()), nil), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Body) != maxFields+1 || out.Body["…"] != "68 more fields" {
		t.Fatalf("summary of 100 fields has %d entries: %v", len(out.Body), out.Body["…"])
	}
}

func TestSummarizeForm(t *testing.T) {
	got := SummarizeForm(map[string][]string{"version": {"1.2.3"}, "signing_password": {"x"}}, map[string]int64{"file": 42})
	want := `{"form":{"file":"<file, 42 bytes>","signing_password":"[redacted]","version":"1.2.3"}}`
	if !jsonEqual(t, got, []byte(want)) {
		t.Errorf("SummarizeForm = %s, want %s", got, want)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	ab, _ := json.Marshal(x)
	bb, _ := json.Marshal(y)
	return string(ab) == string(bb)
}
