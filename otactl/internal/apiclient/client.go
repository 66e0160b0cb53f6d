// Package apiclient calls the otaplane API by operation id: every method and path comes
// from the API's own OpenAPI description, so the tool cannot call a route the API does
// not describe.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/otaplane/ota/api/openapi"
)

// Client speaks to one API with one key.
type Client struct {
	base string
	key  string
	http *http.Client
	ops  map[string]operation
}

type operation struct {
	method string
	path   string // with {param} placeholders, under /api/v1
}

// New builds a client for the API at baseURL (e.g. http://localhost:8080).
func New(baseURL, key string) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("API URL %q: want http(s)://host[:port]", baseURL)
	}
	doc, err := openapi.Load()
	if err != nil {
		return nil, err
	}
	ops := map[string]operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops[op.OperationID] = operation{method: method, path: path}
		}
	}
	return &Client{base: strings.TrimRight(baseURL, "/") + "/api/v1", key: key,
		http: &http.Client{Timeout: 2 * time.Minute}, ops: ops}, nil
}

// Describes says whether the API's description has the operation.
func (c *Client) Describes(op string) bool {
	_, ok := c.ops[op]
	return ok
}

// Request is one call.
type Request struct {
	Op    string            // the OpenAPI operationId
	Path  map[string]string // path parameters
	Query url.Values
	// JSON is marshalled as the body; Body and ContentType send anything else.
	JSON        any
	Body        io.Reader
	ContentType string
	// Key replaces the client's key (the admin key for tenant creation).
	Key string
}

// Error is the API's answer to a call it refused.
type Error struct {
	Status  int
	Code    string
	Message string
	Field   string
}

func (e *Error) Error() string {
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Code != "" {
		return fmt.Sprintf("%s (%d %s)", msg, e.Status, e.Code)
	}
	return fmt.Sprintf("%s (%d)", msg, e.Status)
}

// Do sends r and decodes a JSON answer into out (unless nil); it returns the raw body
// too, for -o json.
func (c *Client) Do(ctx context.Context, r Request, out any) ([]byte, error) {
	resp, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the answer: %w", r.Op, err)
	}
	if resp.StatusCode >= 400 {
		return raw, apiError(resp.StatusCode, raw)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return raw, fmt.Errorf("%s: unexpected answer: %w", r.Op, err)
		}
	}
	return raw, nil
}

// Stream sends r and hands back the answer's body (a firmware image); the caller closes it.
func (c *Client) Stream(ctx context.Context, r Request) (io.ReadCloser, http.Header, error) {
	resp, err := c.send(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, nil, apiError(resp.StatusCode, raw)
	}
	return resp.Body, resp.Header, nil
}

func (c *Client) send(ctx context.Context, r Request) (*http.Response, error) {
	op, ok := c.ops[r.Op]
	if !ok {
		return nil, fmt.Errorf("operation %s is not in the API description", r.Op)
	}
	path := op.path
	for name, v := range r.Path {
		path = strings.ReplaceAll(path, "{"+name+"}", url.PathEscape(v))
	}
	if strings.Contains(path, "{") {
		return nil, fmt.Errorf("%s: path parameter missing in %s", r.Op, path)
	}
	u := c.base + path
	if len(r.Query) > 0 {
		u += "?" + r.Query.Encode()
	}
	body, contentType := r.Body, r.ContentType
	if r.JSON != nil {
		b, err := json.Marshal(r.JSON)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Op, err)
		}
		body, contentType = bytes.NewReader(b), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, op.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Op, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	key := c.key
	if r.Key != "" {
		key = r.Key
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", op.method, u, err)
	}
	return resp, nil
}

func apiError(status int, raw []byte) error {
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &body) != nil || body.Error.Message == "" {
		return &Error{Status: status, Message: strings.TrimSpace(http.StatusText(status) + " " + string(bytes.TrimSpace(raw)))}
	}
	return &Error{Status: status, Code: body.Error.Code, Message: body.Error.Message, Field: body.Error.Field}
}
