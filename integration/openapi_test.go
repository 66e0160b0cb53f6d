package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/otaplane/ota/api/openapi"
)

// contract holds every request the tests send the API against the API's own OpenAPI
// description: each answer must be one the description allows, and each request the
// API accepted must be one the description allows.
var contract struct {
	once   sync.Once
	router routers.Router
	err    error
}

func contractRouter() (routers.Router, error) {
	contract.once.Do(func() {
		doc, err := openapi.Load()
		if err != nil {
			contract.err = err
			return
		}
		contract.router, contract.err = gorillamux.NewRouter(doc)
	})
	return contract.router, contract.err
}

func init() {
	// Fleet imports send CSV as text.
	openapi3filter.RegisterBodyDecoder("text/csv", openapi3filter.PlainBodyDecoder)
}

// checkContract validates one exchange; reqBody is the request's body as sent.
func checkContract(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) error {
	if !strings.HasPrefix(req.URL.Path, "/api/v1/") {
		return nil // probes and metrics are not part of the API
	}
	router, err := contractRouter()
	if err != nil {
		return err
	}
	// The description's server is /api/v1 on any host.
	route, params, err := router.FindRoute(req)
	if err != nil {
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			return nil // an undescribed path answered as one
		}
		return fmt.Errorf("%s %s answered %d but is not described: %w", req.Method, req.URL.Path, resp.StatusCode, err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: cloneWithBody(req, reqBody), PathParams: params, Route: route, Options: opts}
	if resp.StatusCode < 400 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			return fmt.Errorf("%s %s was accepted (%d) but the description refuses the request: %w",
				req.Method, route.Path, resp.StatusCode, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode,
		Header: resp.Header, Body: io.NopCloser(bytes.NewReader(respBody)), Options: opts}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("%s %s answered %d with what the description does not allow: %w\nbody: %.500s",
			req.Method, route.Path, resp.StatusCode, err, respBody)
	}
	return nil
}

func cloneWithBody(req *http.Request, body []byte) *http.Request {
	c := req.Clone(context.Background())
	c.Body = io.NopCloser(bytes.NewReader(body))
	c.ContentLength = int64(len(body))
	return c
}
