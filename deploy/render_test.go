package deploy

import (
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// root is where the manifests live in the in-memory file system the tests render.
const root = "/deploy/kubernetes"

// render builds the kustomization at dir (relative to kubernetes/) from a copy of the
// committed manifests in memory, with secrets.env made by the dev overlay's own
// make-secrets.sh, so the tests never write into the source tree.
func render(t *testing.T, dir string, extra map[string]string) []object {
	t.Helper()
	mem := filesys.MakeFsInMemory()
	err := filepath.WalkDir("kubernetes", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return mem.WriteFile(path.Join("/deploy", filepath.ToSlash(p)), b)
	})
	if err != nil {
		t.Fatal(err)
	}
	secrets := t.TempDir()
	if out, err := exec.Command("kubernetes/overlays/dev/make-secrets.sh", secrets).CombinedOutput(); err != nil {
		t.Fatalf("make-secrets.sh: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(secrets, "secrets.env"))
	if err != nil {
		t.Fatal(err)
	}
	if err := mem.WriteFile(root+"/overlays/dev/secrets.env", b); err != nil {
		t.Fatal(err)
	}
	for name, content := range extra {
		if err := mem.WriteFile(path.Join(root, name), []byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, path.Join(root, dir))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var objs []object
	for _, r := range resources.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		o, err := decodeStrict(y)
		if err != nil {
			t.Errorf("%s %s: %v", r.GetKind(), r.GetName(), err)
			continue
		}
		objs = append(objs, o)
	}
	return objs
}
