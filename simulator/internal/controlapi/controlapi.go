// Package controlapi is the small part of the control plane's HTTP API the simulator
// needs: finding the caller's tenant, registering simulated devices and getting each
// its own broker credentials.
package controlapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// maxErrorBody caps how much of an error response is quoted in an error.
const maxErrorBody = 4 << 10

// Client calls the control plane API with an API key.
type Client struct {
	baseURL string
	apiKey  string
	http    *http.Client
}

// New returns a client for the API at baseURL (e.g. http://127.0.0.1:8080).
func New(baseURL, apiKey string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{baseURL: strings.TrimRight(baseURL, "/"), apiKey: apiKey, http: hc}
}

// Device is the registration body of POST /api/v1/devices.
type Device struct {
	ID              string            `json:"id"`
	HardwareModel   string            `json:"hardware_model"`
	FirmwareVersion string            `json:"firmware_version"`
	Labels          map[string]string `json:"labels,omitempty"`
}

// TenantID returns the id of the tenant the API key belongs to.
func (c *Client) TenantID(ctx context.Context) (string, error) {
	resp, err := c.do(ctx, http.MethodGet, "/api/v1/tenant", nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", statusError("get tenant", resp)
	}
	var tenant struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tenant); err != nil {
		return "", fmt.Errorf("get tenant: decode response: %w", err)
	}
	if tenant.ID == "" {
		return "", fmt.Errorf("get tenant: response has no id")
	}
	return tenant.ID, nil
}

// Credentials are a device's own broker credentials, as the API shows them once.
type Credentials struct {
	DeviceID string `json:"device_id"`
	Username string `json:"username"`
	Password string `json:"password"`
	ClientID string `json:"client_id"`
	Broker   string `json:"broker"`
}

// Provision gets a device its broker credentials: it registers the device (the answer
// carries them) or, when the device exists already (409) or register is false, issues
// the next generation of its credentials, retiring the previous one at once — the
// simulator is the device, and it switches immediately.
func (c *Client) Provision(ctx context.Context, d Device, register bool) (creds Credentials, created bool, err error) {
	if register {
		body, err := json.Marshal(d)
		if err != nil {
			return Credentials{}, false, fmt.Errorf("register device %s: encode: %w", d.ID, err)
		}
		resp, err := c.do(ctx, http.MethodPost, "/api/v1/devices", body)
		if err != nil {
			return Credentials{}, false, err
		}
		defer resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusCreated:
			var out struct {
				Credentials *Credentials `json:"credentials"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				return Credentials{}, false, fmt.Errorf("register device %s: decode: %w", d.ID, err)
			}
			if out.Credentials != nil {
				return *out.Credentials, true, nil
			}
			created = true
		case http.StatusConflict:
		default:
			return Credentials{}, false, statusError("register device "+d.ID, resp)
		}
	}
	creds, err = c.rotate(ctx, d.ID)
	return creds, created, err
}

func (c *Client) rotate(ctx context.Context, deviceID string) (Credentials, error) {
	resp, err := c.do(ctx, http.MethodPost, "/api/v1/devices/"+deviceID+"/credentials", []byte(`{"retire_after":"0s"}`))
	if err != nil {
		return Credentials{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return Credentials{}, statusError("credentials of "+deviceID, resp)
	}
	var out Credentials
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return Credentials{}, fmt.Errorf("credentials of %s: decode: %w", deviceID, err)
	}
	return out, nil
}

// ProvisionAll provisions devices with up to workers requests in flight and returns
// their credentials and how many were newly created. It stops at the first error.
func (c *Client) ProvisionAll(ctx context.Context, devices []Device, register bool, workers int) (map[string]Credentials, int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		created  int
		firstErr error
		creds    = make(map[string]Credentials, len(devices))
	)
	jobs := make(chan Device)
	for range max(workers, 1) {
		wg.Go(func() {
			for d := range jobs {
				cr, ok, err := c.Provision(ctx, d, register)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				if err == nil {
					creds[d.ID] = cr
				}
				if ok {
					created++
				}
				mu.Unlock()
			}
		})
	}
	stopped := false
feed:
	for _, d := range devices {
		select {
		case jobs <- d:
		case <-ctx.Done():
			stopped = true
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr == nil && stopped {
		// Only the caller's context can have ended the feed without a request error.
		firstErr = fmt.Errorf("provision devices: %w", ctx.Err())
	}
	return creds, created, firstErr
}

func (c *Client) do(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return resp, nil
}

func statusError(what string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return fmt.Errorf("%s: HTTP %s: %s", what, resp.Status, strings.TrimSpace(string(body)))
}
