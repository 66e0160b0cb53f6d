package httpapi

import (
	"net/url"
	"testing"
)

// FuzzAuditFilter: any query parses into a bounded filter or a FieldError naming a field.
func FuzzAuditFilter(f *testing.F) {
	f.Add("from=2026-01-02T15:04:05Z&to=2026-01-03T00:00:00Z&actor=6ba7b810-9dad-11d1-80b4-00c04fd430c8")
	f.Add("action=key.create&target=x&before=12&limit=5")
	f.Add("limit=0&colour=red")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		filter, ferr := parseAuditFilter(q)
		if ferr != nil {
			if ferr.Field == "" || ferr.Message == "" {
				t.Fatalf("error without a field or message: %+v", ferr)
			}
			return
		}
		if filter.Limit < 1 || filter.Limit > maxPageLimit || filter.BeforeID < 0 {
			t.Fatalf("out of bounds: %+v", filter)
		}
	})
}
