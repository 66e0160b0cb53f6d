package manifest

import (
	"errors"
	"strconv"
	"strings"
)

// maxVersionLen bounds what a device parses, as the control plane's validator does.
const maxVersionLen = 128

var errVersion = errors.New("not a semantic version")

// semver is a parsed MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]; build metadata does not
// take part in ordering.
type semver struct {
	core [3]string // decimal, no leading zeros
	pre  []string
}

// CompareVersions orders two semantic versions (semver.org 2.0.0 precedence) the way
// the control plane does: -1, 0 or 1, or an error when either is not a version.
func CompareVersions(a, b string) (int, error) {
	va, err := parseSemver(a)
	if err != nil {
		return 0, err
	}
	vb, err := parseSemver(b)
	if err != nil {
		return 0, err
	}
	for i := range va.core {
		if c := compareNumeric(va.core[i], vb.core[i]); c != 0 {
			return c, nil
		}
	}
	return comparePrerelease(va.pre, vb.pre), nil
}

func parseSemver(v string) (semver, error) {
	if v == "" || len(v) > maxVersionLen {
		return semver{}, errVersion
	}
	rest, build, hasBuild := strings.Cut(v, "+")
	if hasBuild && !validIdentifiers(build, false) {
		return semver{}, errVersion
	}
	core, pre, hasPre := strings.Cut(rest, "-")
	if hasPre && !validIdentifiers(pre, true) {
		return semver{}, errVersion
	}
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return semver{}, errVersion
	}
	var s semver
	for i, p := range parts {
		if !isNumeric(p) || len(p) > 1 && p[0] == '0' {
			return semver{}, errVersion
		}
		if _, err := strconv.ParseUint(p, 10, 64); err != nil {
			return semver{}, errVersion
		}
		s.core[i] = p
	}
	if hasPre {
		s.pre = strings.Split(pre, ".")
	}
	return s, nil
}

// validIdentifiers checks dot-separated identifiers of [0-9A-Za-z-]; numeric
// pre-release identifiers must not have leading zeros.
func validIdentifiers(s string, prerelease bool) bool {
	for id := range strings.SplitSeq(s, ".") {
		if id == "" {
			return false
		}
		for i := 0; i < len(id); i++ {
			c := id[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return false
			}
		}
		if prerelease && isNumeric(id) && len(id) > 1 && id[0] == '0' {
			return false
		}
	}
	return true
}

func isNumeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// compareNumeric orders decimal strings without leading zeros, of any length
// (pre-release identifiers are not bounded).
func compareNumeric(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// comparePrerelease: no pre-release ranks above any; numeric identifiers rank below
// alphanumeric ones; a shorter list ranks below a longer one it prefixes.
func comparePrerelease(a, b []string) int {
	switch {
	case len(a) == 0 && len(b) == 0:
		return 0
	case len(a) == 0:
		return 1
	case len(b) == 0:
		return -1
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		an, bn := isNumeric(a[i]), isNumeric(b[i])
		var c int
		switch {
		case an && bn:
			c = compareNumeric(a[i], b[i])
		case an:
			c = -1
		case bn:
			c = 1
		default:
			c = strings.Compare(a[i], b[i])
		}
		if c != 0 {
			return c
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}
