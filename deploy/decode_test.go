package deploy

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// object is one rendered manifest decoded into its official Kubernetes type.
type object struct {
	Kind string
	Name string
	Obj  any
}

// kinds are the only kinds the manifests may hold, each with its Go type.
var kinds = map[string]func() any{
	"apps/v1/Deployment":                     func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                    func() any { return &appsv1.StatefulSet{} },
	"v1/Service":                             func() any { return &corev1.Service{} },
	"v1/ConfigMap":                           func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                              func() any { return &corev1.Secret{} },
	"v1/Namespace":                           func() any { return &corev1.Namespace{} },
	"autoscaling/v2/HorizontalPodAutoscaler": func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"policy/v1/PodDisruptionBudget":          func() any { return &policyv1.PodDisruptionBudget{} },
}

// decodeStrict decodes one YAML object into its Kubernetes type; a field the type does
// not have, or a kind not in kinds, is an error.
func decodeStrict(y []byte) (object, error) {
	var meta metav1.TypeMeta
	if err := yaml.Unmarshal(y, &meta); err != nil {
		return object{}, err
	}
	newObj, ok := kinds[meta.APIVersion+"/"+meta.Kind]
	if !ok {
		return object{}, fmt.Errorf("unexpected kind %s/%s", meta.APIVersion, meta.Kind)
	}
	obj := newObj()
	if err := yaml.UnmarshalStrict(y, obj); err != nil {
		return object{}, fmt.Errorf("%s: %w", meta.Kind, err)
	}
	name := obj.(metav1.Object).GetName()
	return object{Kind: meta.Kind, Name: name, Obj: obj}, nil
}
