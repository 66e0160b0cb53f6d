package model

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/otaplane/ota/proto/topic"
)

// FieldError is a bad input value; the API answers it with 4xx naming Field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Fieldf builds a FieldError.
func Fieldf(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

var labelKeyRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?$`)

const (
	// MaxLabels bounds the labels of one device.
	MaxLabels = 64
	// MaxLabelValueLen bounds one label value, in bytes.
	MaxLabelValueLen = 256
)

// ValidateIdent checks a device id or hardware model.
func ValidateIdent(field, v string) error {
	if v == "" {
		return Fieldf(field, "is required")
	}
	// Identifiers end up in MQTT topics and Cadence workflow ids: the topic grammar rules.
	if !topic.ValidIdent(v) {
		return Fieldf(field, "must be 1-128 characters of letters, digits, '.', '_', ':' or '-', starting with a letter or digit")
	}
	return nil
}

// ValidateVersion checks a semantic version such as 1.4.2 or 2.0.0-rc.1.
func ValidateVersion(field, v string) error {
	if v == "" {
		return Fieldf(field, "is required")
	}
	if _, err := semver.StrictNewVersion(v); err != nil {
		return Fieldf(field, "must be a semantic version like 1.4.2: %v", err)
	}
	return nil
}

// CompareVersions orders two semantic versions; invalid ones sort first.
func CompareVersions(a, b string) int {
	va, errA := semver.StrictNewVersion(a)
	vb, errB := semver.StrictNewVersion(b)
	switch {
	case errA != nil && errB != nil:
		return strings.Compare(a, b)
	case errA != nil:
		return -1
	case errB != nil:
		return 1
	}
	return va.Compare(vb)
}

// ValidateLabels checks device labels (keys like Kubernetes label keys, short values).
func ValidateLabels(field string, labels map[string]string) error {
	if len(labels) > MaxLabels {
		return Fieldf(field, "at most %d labels", MaxLabels)
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the first bad key reported is stable
	for _, k := range keys {
		if err := ValidateLabelKey(field+"."+k, k); err != nil {
			return err
		}
		if err := validateLabelValue(field+"."+k, labels[k]); err != nil {
			return err
		}
	}
	return nil
}

// ValidateLabelKey checks one label key.
func ValidateLabelKey(field, k string) error {
	if !labelKeyRE.MatchString(k) {
		return Fieldf(field, "label key must be lower-case letters, digits, '.', '_', '/' or '-' (max 63)")
	}
	return nil
}

func validateLabelValue(field, v string) error {
	if len(v) > MaxLabelValueLen {
		return Fieldf(field, "label value longer than %d characters", MaxLabelValueLen)
	}
	return ValidateText(field, v, MaxLabelValueLen)
}

// MaxNameLen bounds a human-readable name, in bytes.
const MaxNameLen = 200

// ValidateName checks a human-readable name.
func ValidateName(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return Fieldf(field, "is required")
	}
	if len(v) > MaxNameLen {
		return Fieldf(field, "must be at most %d characters", MaxNameLen)
	}
	return ValidateText(field, v, MaxNameLen)
}
