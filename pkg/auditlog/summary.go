// Package auditlog holds the pure rules of what an audit row says about a request: a
// short summary of its input that never carries a secret.
package auditlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"
)

// Limits keep a row small whatever the request: a summary says what was asked, it does
// not archive the body.
const (
	maxFields     = 32
	maxValueBytes = 256
)

// Redacted replaces the value of a field that may hold a secret.
const Redacted = "[redacted]"

// secretWords mark field names whose values are never written: a key's or webhook's
// secret, device passwords, tokens, private keys.
var secretWords = []string{"secret", "password", "passphrase", "token", "private", "api_key", "authorization", "credential"}

// IsSecretField says a field named name may carry a secret.
func IsSecretField(name string) bool {
	n := strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// Summarize describes a JSON request body and its query: each top-level field with its
// value when short (secrets redacted, long values replaced by their size). A body that
// is not a JSON object is described by its size only.
func Summarize(body []byte, query url.Values) json.RawMessage {
	out := map[string]any{}
	if len(body) > 0 {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err == nil {
			out["body"] = fields(obj)
		} else {
			out["body_bytes"] = len(body)
		}
	}
	if len(query) > 0 {
		q := make(map[string]json.RawMessage, len(query))
		for k, v := range query {
			b, _ := json.Marshal(strings.Join(v, ","))
			q[k] = b
		}
		out["query"] = fields(q)
	}
	return storable(out)
}

// storable encodes a summary as JSON PostgreSQL's jsonb accepts: it refuses the NUL
// character, which a refused request may well carry, so NUL becomes U+FFFD.
func storable(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return bytes.ReplaceAll(b, []byte(`\u0000`), []byte(`\ufffd`))
}

// SummarizeForm describes a multipart form's values and file sizes.
func SummarizeForm(values map[string][]string, fileSizes map[string]int64) json.RawMessage {
	f := make(map[string]json.RawMessage, len(values)+len(fileSizes))
	for k, v := range values {
		b, _ := json.Marshal(strings.Join(v, ","))
		f[k] = b
	}
	for k, n := range fileSizes {
		f[k] = json.RawMessage(fmt.Sprintf(`"<file, %d bytes>"`, n))
	}
	return storable(map[string]any{"form": fields(f)})
}

func fields(obj map[string]json.RawMessage) map[string]any {
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make(map[string]any, min(len(names), maxFields+1))
	for i, k := range names {
		if i == maxFields {
			out["…"] = fmt.Sprintf("%d more fields", len(names)-maxFields)
			break
		}
		key := clip(k)
		switch v := obj[k]; {
		case IsSecretField(k):
			out[key] = Redacted
		case len(v) > maxValueBytes:
			out[key] = fmt.Sprintf("<%d bytes>", len(v))
		default:
			out[key] = redactNested(v)
		}
	}
	return out
}

// redactNested hides secret fields inside an object or array value.
func redactNested(v json.RawMessage) any {
	var x any
	if err := json.Unmarshal(v, &x); err != nil {
		return v
	}
	return redactValue(x)
}

func redactValue(x any) any {
	switch v := x.(type) {
	case map[string]any:
		for k, e := range v {
			if IsSecretField(k) {
				v[k] = Redacted
			} else {
				v[k] = redactValue(e)
			}
		}
	case []any:
		for i, e := range v {
			v[i] = redactValue(e)
		}
	}
	return x
}

// clip bounds a field name an attacker chooses.
func clip(s string) string {
	if len(s) <= maxValueBytes {
		return s
	}
	s = s[:maxValueBytes]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
