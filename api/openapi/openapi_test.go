package openapi

import (
	"encoding/json"
	"testing"
)

func TestLoadValidatesAndServesJSON(t *testing.T) {
	d, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if d.OpenAPI != "3.0.3" || d.Paths.Len() == 0 {
		t.Fatalf("openapi %q with %d paths", d.OpenAPI, d.Paths.Len())
	}
	b, err := JSON()
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("served JSON does not parse: %v", err)
	}
	if back["openapi"] != "3.0.3" {
		t.Fatalf("served JSON names openapi %v", back["openapi"])
	}
}

// Every operation has an id: otactl and generated clients name calls by it.
func TestEveryOperationHasUniqueID(t *testing.T) {
	d, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for path, item := range d.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			if op.OperationID == "" {
				t.Errorf("%s has no operationId", where)
				continue
			}
			if prev, dup := seen[op.OperationID]; dup {
				t.Errorf("operationId %s on %s and %s", op.OperationID, prev, where)
			}
			seen[op.OperationID] = where
		}
	}
}
