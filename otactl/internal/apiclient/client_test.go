package apiclient

import (
	"errors"
	"testing"
)

func TestAPIErrorShowsTheAPIsMessageAndField(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"field", 400, `{"error":{"code":"invalid_argument","message":"must be a UUID","field":"firmware_id"}}`,
			"firmware_id: must be a UUID (400 invalid_argument)"},
		{"no field", 409, `{"error":{"code":"conflict","message":"campaign is already RUNNING"}}`,
			"campaign is already RUNNING (409 conflict)"},
		{"not the API", 502, `<html>bad gateway</html>`, "Bad Gateway <html>bad gateway</html> (502)"},
		{"empty", 503, ``, "Service Unavailable (503)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := apiError(tt.status, []byte(tt.body))
			var api *Error
			if !errors.As(err, &api) || api.Status != tt.status {
				t.Fatalf("%v is not an *Error with status %d", err, tt.status)
			}
			if err.Error() != tt.want {
				t.Errorf("%q; want %q", err.Error(), tt.want)
			}
		})
	}
}

func TestNewRefusesBadURLsAndUnknownOperations(t *testing.T) {
	for _, u := range []string{"", "localhost:8080", "ftp://host", "http://"} {
		if _, err := New(u, "k"); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
	c, err := New("http://127.0.0.1:1", "k")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Describes("executeCampaign") || c.Describes("launchMissiles") {
		t.Error("Describes does not follow the API's description")
	}
	if _, err := c.Do(t.Context(), Request{Op: "launchMissiles"}, nil); err == nil {
		t.Error("an undescribed operation was sent")
	}
	if _, err := c.Do(t.Context(), Request{Op: "getCampaign"}, nil); err == nil {
		t.Error("a call without its path parameter was sent")
	}
}

// FuzzAPIError: whatever an API (or something in front of it) answers, the error is
// an *Error carrying the status.
func FuzzAPIError(f *testing.F) {
	f.Add(400, []byte(`{"error":{"code":"x","message":"y","field":"z"}}`))
	f.Add(500, []byte(`{"error":null}`))
	f.Add(404, []byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		err := apiError(status, body)
		var api *Error
		if !errors.As(err, &api) || api.Status != status {
			t.Fatalf("%v", err)
		}
		_ = err.Error()
	})
}
