package deploy

import (
	"os"
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"
)

// The dev overlay's Cadence runs with docker-compose's dynamic config.
func TestDevCadenceDynamicConfigIsCompose(t *testing.T) {
	read := func(p string) map[string]any {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		return m
	}
	dev, compose := read("kubernetes/overlays/dev/cadence-dynamicconfig.yaml"), read("../configs/cadence/dynamicconfig.yaml")
	if !reflect.DeepEqual(dev, compose) {
		t.Errorf("dev overlay's Cadence dynamic config %v differs from configs/cadence/dynamicconfig.yaml %v", dev, compose)
	}
}
