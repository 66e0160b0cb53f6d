// Package openapi holds the OpenAPI 3 description of /api/v1: the committed
// openapi.yaml, checked when loaded and served as JSON.
package openapi

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
)

//go:embed openapi.yaml
var source []byte

var (
	once    sync.Once
	doc     *openapi3.T
	docJSON []byte
	loadErr error
)

// Load parses and validates the description once; every caller shares the result and
// must not change it.
func Load() (*openapi3.T, error) {
	once.Do(func() { doc, docJSON, loadErr = load() })
	return doc, loadErr
}

// JSON is the description as served at GET /api/v1/openapi.json.
func JSON() ([]byte, error) {
	if _, err := Load(); err != nil {
		return nil, err
	}
	return docJSON, nil
}

func load() (*openapi3.T, []byte, error) {
	d, err := openapi3.NewLoader().LoadFromData(source)
	if err != nil {
		return nil, nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	if err := d.Validate(context.Background()); err != nil {
		return nil, nil, fmt.Errorf("openapi.yaml is not a valid OpenAPI 3 description: %w", err)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, nil, fmt.Errorf("openapi.yaml as JSON: %w", err)
	}
	return d, b, nil
}
