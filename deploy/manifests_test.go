package deploy

import (
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/probe"
)

// The control plane's own images, and what each one's listen key is.
const (
	apiImage    = "ota-api:dev"
	workerImage = "ota-worker:dev"
	brokerImage = "ota-broker:dev"
)

// workload is a pod template with what owns it.
type workload struct {
	kind, name string
	selector   *metav1.LabelSelector
	pod        corev1.PodTemplateSpec
}

// system is one rendered kustomization, indexed.
type system struct {
	objs       []object
	workloads  []workload
	services   []*corev1.Service
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
	hpas       []*autoscalingv2.HorizontalPodAutoscaler
	pdbs       []*policyv1.PodDisruptionBudget
}

func index(objs []object) system {
	s := system{objs: objs, configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	for _, o := range objs {
		switch v := o.Obj.(type) {
		case *appsv1.Deployment:
			s.workloads = append(s.workloads, workload{"Deployment", v.Name, v.Spec.Selector, v.Spec.Template})
		case *appsv1.StatefulSet:
			s.workloads = append(s.workloads, workload{"StatefulSet", v.Name, v.Spec.Selector, v.Spec.Template})
		case *corev1.Service:
			s.services = append(s.services, v)
		case *corev1.ConfigMap:
			s.configMaps[v.Name] = v
		case *corev1.Secret:
			s.secrets[v.Name] = v
		case *autoscalingv2.HorizontalPodAutoscaler:
			s.hpas = append(s.hpas, v)
		case *policyv1.PodDisruptionBudget:
			s.pdbs = append(s.pdbs, v)
		}
	}
	return s
}

func (s system) workload(kind, name string) (workload, bool) {
	for _, w := range s.workloads {
		if w.kind == kind && w.name == name {
			return w, true
		}
	}
	return workload{}, false
}

// kustomizations are every build the repository offers.
var kustomizations = []struct {
	name  string
	dir   string
	extra map[string]string
	// complete: every referenced ConfigMap and Secret is part of the build.
	complete bool
}{
	{"base", "base", nil, false},
	{"dev overlay", "overlays/dev", nil, true},
	{"dev overlay with worker-reports-autoscaling", "overlays/dev-autoscaling", map[string]string{
		"overlays/dev-autoscaling/kustomization.yaml": "resources: [../dev]\ncomponents: [../../components/worker-reports-autoscaling]\n",
	}, true},
}

func TestManifests(t *testing.T) {
	for _, k := range kustomizations {
		t.Run(k.name, func(t *testing.T) {
			s := index(render(t, k.dir, k.extra))
			for _, want := range []string{"Deployment/ota-api", "Deployment/ota-worker", "StatefulSet/ota-broker"} {
				kind, name, _ := strings.Cut(want, "/")
				if _, ok := s.workload(kind, name); !ok {
					t.Errorf("no %s", want)
				}
			}
			checkSelectors(t, s)
			checkServices(t, s)
			checkProbesAndPorts(t, s)
			checkEnvNames(t, s)
			checkSecurity(t, s)
			checkScaling(t, s)
			checkGracePeriods(t, s)
			if k.complete {
				checkReferences(t, s)
				checkConfigAccepted(t, s)
			} else if len(s.secrets) > 0 {
				t.Errorf("the base holds a Secret: secrets belong to overlays")
			}
		})
	}
}

func selects(t *testing.T, sel *metav1.LabelSelector, podLabels map[string]string) bool {
	t.Helper()
	ls, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatalf("selector %v: %v", sel, err)
	}
	return !ls.Empty() && ls.Matches(labels.Set(podLabels))
}

// checkSelectors: every workload's selector matches its own pod template and no other
// workload's, so a Service or PDB never mixes them up.
func checkSelectors(t *testing.T, s system) {
	for _, w := range s.workloads {
		for _, other := range s.workloads {
			matches := selects(t, w.selector, other.pod.Labels)
			if same := w.name == other.name && w.kind == other.kind; matches != same {
				t.Errorf("%s %s selector matches %s %s: %v", w.kind, w.name, other.kind, other.name, matches)
			}
		}
	}
}

// checkServices: each Service selects exactly one workload and targets its ports.
func checkServices(t *testing.T, s system) {
	for _, svc := range s.services {
		var targets []workload
		for _, w := range s.workloads {
			if selects(t, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, w.pod.Labels) {
				targets = append(targets, w)
			}
		}
		if len(targets) != 1 {
			t.Errorf("Service %s selects %d workloads, want 1", svc.Name, len(targets))
			continue
		}
		for _, p := range svc.Spec.Ports {
			if _, ok := containerPort(targets[0].pod.Spec, p.TargetPort); !ok {
				t.Errorf("Service %s port %s: target %s is no port of %s", svc.Name, p.Name, p.TargetPort.String(), targets[0].name)
			}
		}
	}
}

// containerPort finds the port a name or number refers to in the pod.
func containerPort(pod corev1.PodSpec, ref intstr.IntOrString) (int32, bool) {
	for _, c := range pod.Containers {
		for _, p := range c.Ports {
			if (ref.Type == intstr.String && p.Name == ref.StrVal) || (ref.Type == intstr.Int && p.ContainerPort == ref.IntVal) {
				return p.ContainerPort, true
			}
		}
	}
	return 0, false
}

// listenKeys: the config key whose address a container of our images serves probes on.
var listenKeys = map[string]string{apiImage: "http.listen", workerImage: "worker.monitor_listen"}

// checkProbesAndPorts: api and worker probe the paths package probe serves, on the
// port their listen key sets; Prometheus scrapes that port's /metrics.
func checkProbesAndPorts(t *testing.T, s system) {
	for _, w := range s.workloads {
		for _, c := range w.pod.Spec.Containers {
			for _, pr := range []struct {
				kind  string
				probe *corev1.Probe
				path  string
			}{{"readiness", c.ReadinessProbe, probe.ReadyPath}, {"liveness", c.LivenessProbe, probe.HealthPath}} {
				if pr.probe == nil {
					if listenKeys[c.Image] != "" || c.Image == brokerImage {
						t.Errorf("%s/%s: no %s probe", w.name, c.Name, pr.kind)
					}
					continue
				}
				var port intstr.IntOrString
				switch {
				case pr.probe.HTTPGet != nil:
					port = pr.probe.HTTPGet.Port
					if listenKeys[c.Image] != "" && pr.probe.HTTPGet.Path != pr.path {
						t.Errorf("%s/%s: %s probe on %s, want %s", w.name, c.Name, pr.kind, pr.probe.HTTPGet.Path, pr.path)
					}
				case pr.probe.TCPSocket != nil:
					port = pr.probe.TCPSocket.Port
				case pr.probe.Exec != nil:
					continue
				}
				if _, ok := containerPort(w.pod.Spec, port); !ok {
					t.Errorf("%s/%s: %s probe port %s is no container port", w.name, c.Name, pr.kind, port.String())
				}
			}
			key := listenKeys[c.Image]
			if key == "" {
				continue
			}
			listen := envValue(c, config.EnvName(key))
			_, p, err := net.SplitHostPort(listen)
			if err != nil {
				t.Errorf("%s/%s: %s=%q: %v", w.name, c.Name, config.EnvName(key), listen, err)
				continue
			}
			probePort, _ := containerPort(w.pod.Spec, c.ReadinessProbe.HTTPGet.Port)
			if p != strconv.Itoa(int(probePort)) {
				t.Errorf("%s/%s: serves on %s but is probed on port %d", w.name, c.Name, listen, probePort)
			}
			ann := w.pod.Annotations
			if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != p || ann["prometheus.io/path"] != probe.MetricsPath {
				t.Errorf("%s: Prometheus annotations %v, want scrape on port %s at %s", w.name, ann, p, probe.MetricsPath)
			}
		}
	}
}

func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// brokerEnv are the variables the broker image's entrypoint reads.
func brokerEnv(t *testing.T) []string {
	b, err := os.ReadFile("../broker/entrypoint.sh")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`\$\{(OTA_[A-Z0-9_]+)`).FindAllStringSubmatch(string(b), -1) {
		names = append(names, m[1])
	}
	return names
}

// checkEnvNames: every variable given to api and worker is one config.Load reads (a
// misspelt one would be ignored silently), and every one given to the broker is one
// its entrypoint reads.
func checkEnvNames(t *testing.T, s system) {
	configEnv := config.EnvNames()
	broker := brokerEnv(t)
	for _, w := range s.workloads {
		for _, c := range w.pod.Spec.Containers {
			var names []string
			for _, e := range c.Env {
				names = append(names, e.Name)
			}
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef == nil {
					t.Errorf("%s/%s: envFrom only from ConfigMaps, so every name is visible here", w.name, c.Name)
					continue
				}
				for _, cm := range s.configMaps {
					if strings.HasPrefix(cm.Name, ef.ConfigMapRef.Name) {
						for k := range cm.Data {
							names = append(names, k)
						}
					}
				}
			}
			for _, n := range names {
				switch c.Image {
				case apiImage, workerImage:
					if _, ok := configEnv[n]; !ok {
						t.Errorf("%s/%s: %s is no configuration key's variable", w.name, c.Name, n)
					}
				case brokerImage:
					if !slices.Contains(broker, n) {
						t.Errorf("%s/%s: broker/entrypoint.sh does not read %s", w.name, c.Name, n)
					}
				}
			}
		}
	}
	worker, _ := s.workload("Deployment", "ota-worker")
	for _, c := range worker.pod.Spec.Containers {
		if c.Image != workerImage {
			continue
		}
		var fromPod bool
		for _, e := range c.Env {
			if e.Name == config.EnvName("mqtt.client_id") && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil &&
				e.ValueFrom.FieldRef.FieldPath == "metadata.name" {
				fromPod = true
			}
		}
		if !fromPod {
			t.Errorf("worker: %s must come from the pod's name", config.EnvName("mqtt.client_id"))
		}
	}
}

// checkSecurity: the control plane's pods run as non-root without privilege escalation,
// on a read-only root file system, with requests and limits.
func checkSecurity(t *testing.T, s system) {
	for _, w := range s.workloads {
		for _, c := range w.pod.Spec.Containers {
			if c.Image != apiImage && c.Image != workerImage && c.Image != brokerImage {
				continue
			}
			psc := w.pod.Spec.SecurityContext
			if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
				t.Errorf("%s: pod must run as a non-root user", w.name)
			}
			sc := c.SecurityContext
			if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
				sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
				sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				t.Errorf("%s/%s: want no privilege escalation, a read-only root and every capability dropped", w.name, c.Name)
			}
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
				if req.IsZero() || lim.IsZero() || req.Cmp(lim) > 0 {
					t.Errorf("%s/%s: %s request %s and limit %s", w.name, c.Name, r, req.String(), lim.String())
				}
			}
		}
	}
}

// checkScaling: every HPA targets a workload that exists and every PDB selects the
// pods of exactly one.
func checkScaling(t *testing.T, s system) {
	if len(s.hpas) == 0 || len(s.pdbs) == 0 {
		t.Errorf("want an HPA and a PDB for the worker; got %d and %d", len(s.hpas), len(s.pdbs))
	}
	for _, h := range s.hpas {
		ref := h.Spec.ScaleTargetRef
		w, ok := s.workload(ref.Kind, ref.Name)
		if !ok || ref.APIVersion != "apps/v1" {
			t.Errorf("HPA %s scales %s %s %s, which is not in the build", h.Name, ref.APIVersion, ref.Kind, ref.Name)
			continue
		}
		for _, m := range h.Spec.Metrics {
			if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource.Name == corev1.ResourceCPU {
				for _, c := range w.pod.Spec.Containers {
					if c.Resources.Requests.Cpu().IsZero() {
						t.Errorf("HPA %s scales on CPU but %s/%s requests none", h.Name, w.name, c.Name)
					}
				}
			}
		}
	}
	for _, p := range s.pdbs {
		var n int
		for _, w := range s.workloads {
			if selects(t, p.Spec.Selector, w.pod.Labels) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("PDB %s selects %d workloads, want 1", p.Name, n)
		}
	}
}

// checkGracePeriods: api and worker get longer than their shutdown timeout, as the
// binaries would read it from the environment the manifests give them.
func checkGracePeriods(t *testing.T, s system) {
	for _, tc := range []struct{ name, key string }{
		{"ota-api", "http.shutdown_timeout"}, {"ota-worker", "worker.shutdown_timeout"},
	} {
		w, ok := s.workload("Deployment", tc.name)
		if !ok {
			continue
		}
		cfg := loadAs(t, s, w)
		timeout := map[string]time.Duration{"http.shutdown_timeout": cfg.HTTP.ShutdownTimeout,
			"worker.shutdown_timeout": cfg.Worker.ShutdownTimeout}[tc.key]
		grace := w.pod.Spec.TerminationGracePeriodSeconds
		if grace == nil || time.Duration(*grace)*time.Second <= timeout {
			t.Errorf("%s: terminationGracePeriodSeconds %v must exceed %s (%s)", tc.name, grace, tc.key, timeout)
		}
	}
}

// checkConfigAccepted: with everything the overlay gives them, api and worker accept
// their configuration, as they would at start-up.
func checkConfigAccepted(t *testing.T, s system) {
	for _, tc := range []struct {
		name     string
		validate func(*config.Config) error
	}{{"ota-api", (*config.Config).ValidateAPI}, {"ota-worker", (*config.Config).ValidateWorker}} {
		w, ok := s.workload("Deployment", tc.name)
		if !ok {
			continue
		}
		if err := tc.validate(loadAs(t, s, w)); err != nil {
			t.Errorf("%s refuses its configuration: %v", tc.name, err)
		}
	}
}

// loadAs loads the configuration as a workload's first container would see it: its
// ConfigMap, its literal values, the pod's name and, where the build has them, its
// Secrets' values.
func loadAs(t *testing.T, s system, w workload) *config.Config {
	c := w.pod.Spec.Containers[0]
	env := map[string]string{}
	for _, ef := range c.EnvFrom {
		for _, cm := range s.configMaps {
			if ef.ConfigMapRef != nil && strings.HasPrefix(cm.Name, ef.ConfigMapRef.Name) {
				for k, v := range cm.Data {
					env[k] = v
				}
			}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			env[e.Name] = w.name + "-5d9c7b6f4-x2x7q"
		case e.ValueFrom.SecretKeyRef != nil:
			if sec := s.secrets[e.ValueFrom.SecretKeyRef.Name]; sec != nil {
				env[e.Name] = string(sec.Data[e.ValueFrom.SecretKeyRef.Key])
			}
		}
	}
	for n := range config.EnvNames() {
		t.Setenv(n, env[n])
		if _, set := env[n]; !set {
			os.Unsetenv(n)
		}
	}
	cfg, err := config.Load("")
	if err != nil {
		t.Fatalf("%s: %v", w.name, err)
	}
	return cfg
}

// checkReferences: in a complete build every ConfigMap and Secret a pod names exists
// and holds the key it asks for.
func checkReferences(t *testing.T, s system) {
	for _, w := range s.workloads {
		for _, c := range w.pod.Spec.Containers {
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil && s.configMaps[ef.ConfigMapRef.Name] == nil {
					t.Errorf("%s/%s: no ConfigMap %s", w.name, c.Name, ef.ConfigMapRef.Name)
				}
			}
			for _, e := range c.Env {
				switch {
				case e.ValueFrom == nil:
				case e.ValueFrom.SecretKeyRef != nil:
					ref := e.ValueFrom.SecretKeyRef
					sec := s.secrets[ref.Name]
					if sec == nil {
						t.Errorf("%s/%s: %s: no Secret %s", w.name, c.Name, e.Name, ref.Name)
					} else if _, ok := sec.Data[ref.Key]; !ok {
						t.Errorf("%s/%s: %s: Secret %s has no key %s", w.name, c.Name, e.Name, ref.Name, ref.Key)
					}
				case e.ValueFrom.ConfigMapKeyRef != nil:
					ref := e.ValueFrom.ConfigMapKeyRef
					if cm := s.configMaps[ref.Name]; cm == nil || cm.Data[ref.Key] == "" {
						t.Errorf("%s/%s: %s: ConfigMap %s has no key %s", w.name, c.Name, e.Name, ref.Name, ref.Key)
					}
				}
			}
			for _, v := range w.pod.Spec.Volumes {
				if v.ConfigMap != nil && s.configMaps[v.ConfigMap.Name] == nil {
					t.Errorf("%s: volume %s: no ConfigMap %s", w.name, v.Name, v.ConfigMap.Name)
				}
			}
		}
	}
}
