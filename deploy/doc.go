// Package deploy holds the Kubernetes manifests (kubernetes/) and the tests that render
// them with the kustomize API and check them against the official Kubernetes types and
// against what the binaries read. It is its own module, outside go.work, so the
// Kubernetes libraries never enter the api's or the worker's build.
package deploy
