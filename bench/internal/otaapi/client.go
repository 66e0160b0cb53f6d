// Package otaapi is the benchmark's client of the OTA HTTP API (/api/v1).
package otaapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/otaplane/ota/simulator/devicesim"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"time"
)

// Client calls the API with one key.
type Client struct {
	Base string // e.g. http://127.0.0.1:8080
	Key  string
	HTTP *http.Client
}

// NewHTTPClient keeps enough idle connections for many concurrent callers, so a load
// of parallel requests measures the API rather than TCP handshakes.
func NewHTTPClient(conns int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = conns
	t.MaxIdleConnsPerHost = conns
	return &http.Client{Transport: t, Timeout: 60 * time.Second}
}

// WithKey returns a client for another key on the same API.
func (c *Client) WithKey(key string) *Client {
	cp := *c
	cp.Key = key
	return &cp
}

// StatusError is an answer with an unexpected status code.
type StatusError struct {
	Method, Path string
	Code         int
	Body         string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Code, e.Body)
}

// IsStatus reports whether err is an answer with the given status code.
func IsStatus(err error, code int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == code
}

func (c *Client) do(ctx context.Context, method, path, contentType string, body io.Reader, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return err
	}
	if c.Key != "" {
		req.Header.Set("Authorization", "Bearer "+c.Key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	if resp.StatusCode != want {
		if len(raw) > 500 {
			raw = append(raw[:500], "…"...)
		}
		return &StatusError{Method: method, Path: path, Code: resp.StatusCode, Body: string(raw)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

func (c *Client) doJSON(ctx context.Context, method, path string, in any, want int, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	return c.do(ctx, method, path, "application/json", body, want, out)
}

// Ready returns nil once /readyz answers 200 (Cadence and PostgreSQL reachable).
func (c *Client) Ready(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/readyz", "", nil, http.StatusOK, nil)
}

// CreateTenant creates a tenant with the admin key and returns its id and API key.
func (c *Client) CreateTenant(ctx context.Context, name string) (id, apiKey string, err error) {
	var out struct {
		Tenant struct {
			ID string `json:"id"`
		} `json:"tenant"`
		APIKey string `json:"api_key"`
	}
	if err := c.doJSON(ctx, http.MethodPost, "/api/v1/tenants", map[string]string{"name": name}, http.StatusCreated, &out); err != nil {
		return "", "", err
	}
	return out.Tenant.ID, out.APIKey, nil
}

// Firmware is a stored image.
type Firmware struct {
	ID            string `json:"id"`
	Version       string `json:"version"`
	HardwareModel string `json:"hardware_model"`
	SHA256        string `json:"sha256"`
	SizeBytes     int64  `json:"size_bytes"`
}

// UploadFirmware stores an image (multipart: file, version, hardware_model).
func (c *Client) UploadFirmware(ctx context.Context, version, model string, image []byte) (Firmware, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.WriteField("version", version)
	_ = w.WriteField("hardware_model", model)
	part, err := w.CreateFormFile("file", "bench-"+version+".bin")
	if err != nil {
		return Firmware{}, err
	}
	_, _ = part.Write(image)
	if err := w.Close(); err != nil {
		return Firmware{}, err
	}
	var fw Firmware
	err = c.do(ctx, http.MethodPost, "/api/v1/firmware", w.FormDataContentType(), &buf, http.StatusCreated, &fw)
	return fw, err
}

// Device is the part of a device record the benchmark sends and reads.
type Device struct {
	ID              string     `json:"id"`
	HardwareModel   string     `json:"hardware_model"`
	FirmwareVersion string     `json:"firmware_version"`
	LastSeenAt      *time.Time `json:"last_seen_at,omitempty"`
}

// ErrNoImport means the API has no bulk import endpoint.
var ErrNoImport = errors.New("POST /api/v1/devices/import is not available")

// ImportDevices creates devices with one request. Without an import route the API
// answers 404, or 405 because the path also matches GET /devices/:id.
func (c *Client) ImportDevices(ctx context.Context, ds []Device) error {
	err := c.doJSON(ctx, http.MethodPost, "/api/v1/devices/import", ds, http.StatusOK, nil)
	if IsStatus(err, http.StatusCreated) {
		return nil
	}
	if IsStatus(err, http.StatusNotFound) || IsStatus(err, http.StatusMethodNotAllowed) {
		return fmt.Errorf("%w (%v)", ErrNoImport, err)
	}
	return err
}

// Credentials are a device's own broker credentials, shown once.
type Credentials struct {
	DeviceID string `json:"device_id"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// IssueCredentials gives imported devices their first broker credentials, at most 1,000
// per request.
func (c *Client) IssueCredentials(ctx context.Context, ids []string) ([]Credentials, error) {
	var out []Credentials
	for start := 0; start < len(ids); start += 1000 {
		var page struct {
			Credentials []Credentials `json:"credentials"`
		}
		if err := c.doJSON(ctx, http.MethodPost, "/api/v1/devices/credentials",
			map[string]any{"device_ids": ids[start:min(start+1000, len(ids))]}, http.StatusCreated, &page); err != nil {
			return nil, fmt.Errorf("issue credentials: %w", err)
		}
		out = append(out, page.Credentials...)
	}
	return out, nil
}

// WithCredentials fills in each device's credentials.
func WithCredentials(specs []devicesim.DeviceSpec, creds []Credentials) []devicesim.DeviceSpec {
	by := make(map[string]Credentials, len(creds))
	for _, c := range creds {
		by[c.DeviceID] = c
	}
	out := make([]devicesim.DeviceSpec, len(specs))
	for i, s := range specs {
		s.Username, s.Password = by[s.ID].Username, by[s.ID].Password
		out[i] = s
	}
	return out
}

// CreateDevice creates one device.
func (c *Client) CreateDevice(ctx context.Context, d Device) error {
	return c.doJSON(ctx, http.MethodPost, "/api/v1/devices", d, http.StatusCreated, nil)
}

// ListDevices returns one page of devices after the given id, and the id to continue
// after ("" on the last page).
func (c *Client) ListDevices(ctx context.Context, after string, limit int) ([]Device, string, error) {
	var out struct {
		Devices   []Device `json:"devices"`
		NextAfter string   `json:"next_after"`
	}
	q := url.Values{"limit": {fmt.Sprint(limit)}}
	if after != "" {
		q.Set("after", after)
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/devices?"+q.Encode(), "", nil, http.StatusOK, &out)
	return out.Devices, out.NextAfter, err
}

// Campaign is a created campaign.
type Campaign struct {
	ID          string `json:"id"`
	State       string `json:"state"`
	DeviceCount int    `json:"device_count"`
}

// CreateCampaign creates a campaign over the given devices.
func (c *Client) CreateCampaign(ctx context.Context, name, firmwareID string, deviceIDs []string) (Campaign, error) {
	return c.CreateCampaignWith(ctx, NewCampaign{Name: name, FirmwareID: firmwareID, DeviceIDs: deviceIDs})
}

// NewCampaign is a campaign over a list of devices with an optional rollout policy
// (docs/campaigns.md).
type NewCampaign struct {
	Name       string         `json:"name"`
	FirmwareID string         `json:"firmware_id"`
	DeviceIDs  []string       `json:"device_ids"`
	Rollout    map[string]any `json:"rollout,omitempty"`
}

// CreateCampaignWith creates a campaign.
func (c *Client) CreateCampaignWith(ctx context.Context, req NewCampaign) (Campaign, error) {
	var out Campaign
	err := c.doJSON(ctx, http.MethodPost, "/api/v1/ota/campaigns", req, http.StatusCreated, &out)
	return out, err
}

// CampaignDevice is one device's result in a campaign.
type CampaignDevice struct {
	Seq        int    `json:"seq"`
	Attempts   int    `json:"attempts"`
	DeviceID   string `json:"device_id"`
	State      string `json:"state"`
	Reason     string `json:"reason"`
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
}

// CampaignDevices reads every device result of a campaign, page by page.
func (c *Client) CampaignDevices(ctx context.Context, id string) ([]CampaignDevice, error) {
	var all []CampaignDevice
	after := 0
	for {
		page, next, err := c.devicesPage(ctx, id, after, 1000)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == 0 {
			return all, nil
		}
		after = next
	}
}

// CampaignDevicesPage reads one page of a campaign's device results.
func (c *Client) CampaignDevicesPage(ctx context.Context, id string, afterSeq, limit int) ([]CampaignDevice, error) {
	page, _, err := c.devicesPage(ctx, id, afterSeq, limit)
	return page, err
}

func (c *Client) devicesPage(ctx context.Context, id string, afterSeq, limit int) ([]CampaignDevice, int, error) {
	var out struct {
		Devices []CampaignDevice `json:"devices"`
		Next    int              `json:"next_after_seq"`
	}
	q := url.Values{"limit": {fmt.Sprint(limit)}, "after_seq": {fmt.Sprint(afterSeq)}}
	err := c.do(ctx, http.MethodGet, "/api/v1/ota/campaigns/"+id+"/devices?"+q.Encode(), "", nil, http.StatusOK, &out)
	return out.Devices, out.Next, err
}

// GetDevice reads one device record.
func (c *Client) GetDevice(ctx context.Context, id string) (Device, error) {
	var out Device
	err := c.do(ctx, http.MethodGet, "/api/v1/devices/"+url.PathEscape(id), "", nil, http.StatusOK, &out)
	return out, err
}

// HistoryRow is one finished update run of a device.
type HistoryRow struct {
	ID             int64     `json:"id"`
	CampaignID     string    `json:"campaign_id"`
	FromVersion    string    `json:"from_version"`
	ToVersion      string    `json:"to_version"`
	Outcome        string    `json:"outcome"`
	Reason         string    `json:"reason"`
	RunningVersion string    `json:"running_version"`
	WorkflowID     string    `json:"workflow_id"`
	RunID          string    `json:"run_id"`
	CreatedAt      time.Time `json:"created_at"`
}

// DeviceHistory reads a device's firmware history, newest first.
func (c *Client) DeviceHistory(ctx context.Context, id string) ([]HistoryRow, error) {
	var out struct {
		History []HistoryRow `json:"history"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/devices/"+url.PathEscape(id)+"/firmware-history", "", nil, http.StatusOK, &out)
	return out.History, err
}

// Execution is the answer to execute.
type Execution struct {
	WorkflowsSubmitted int    `json:"workflows_submitted"`
	WorkflowID         string `json:"workflow_id"`
	RunID              string `json:"run_id"`
}

// ExecuteCampaign starts a campaign.
func (c *Client) ExecuteCampaign(ctx context.Context, id string) (Execution, error) {
	var out Execution
	err := c.doJSON(ctx, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/execute", nil, http.StatusOK, &out)
	return out, err
}

// Status is a campaign's progress.
type Status struct {
	State           string         `json:"state"`
	StateReason     string         `json:"state_reason"`
	ProgressPercent float64        `json:"progress_percent"`
	StatusCounts    map[string]int `json:"status_counts"`
	Total           int            `json:"total"`
	Finished        int            `json:"finished"`
	Succeeded       int            `json:"succeeded"`
	Failed          int            `json:"failed"`
}

// Done reports whether every device run finished and the campaign completed.
func (s Status) Done() bool { return s.ProgressPercent == 100 && s.State == "COMPLETED" }

// Ended reports whether the campaign reached a final state, successful or not.
func (s Status) Ended() bool {
	switch s.State {
	case "COMPLETED", "FAILED", "CANCELED":
		return true
	}
	return false
}

// CampaignStatus reads a campaign's progress.
func (c *Client) CampaignStatus(ctx context.Context, id string) (Status, error) {
	var out Status
	err := c.do(ctx, http.MethodGet, "/api/v1/ota/campaigns/"+id+"/status", "", nil, http.StatusOK, &out)
	return out, err
}

// DryRun is POST /ota/campaigns/{id}/dry-run; the plan itself is not decoded.
func (c *Client) DryRun(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodPost, "/api/v1/ota/campaigns/"+id+"/dry-run", "", nil, http.StatusOK, nil)
}
