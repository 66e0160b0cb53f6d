package model

import (
	"fmt"
	"sort"
	"strings"
)

// SelectorOp is how one selector term tests a label.
type SelectorOp int

const (
	// OpEquals: the label is present with this value (key=value).
	OpEquals SelectorOp = iota + 1
	// OpNotEquals: the label is absent or has another value (key!=value).
	OpNotEquals
	// OpExists: the label is present with any value (key).
	OpExists
	// OpNotExists: the label is absent (!key).
	OpNotExists
)

func (op SelectorOp) String() string {
	switch op {
	case OpEquals:
		return "="
	case OpNotEquals:
		return "!="
	case OpExists:
		return "exists"
	case OpNotExists:
		return "!exists"
	default:
		return fmt.Sprintf("SelectorOp(%d)", int(op))
	}
}

// SelectorTerm is one condition of a selector. Value is empty for OpExists and OpNotExists.
type SelectorTerm struct {
	Op    SelectorOp
	Key   string
	Value string
}

func (t SelectorTerm) String() string {
	switch t.Op {
	case OpEquals:
		return t.Key + "=" + t.Value
	case OpNotEquals:
		return t.Key + "!=" + t.Value
	case OpNotExists:
		return "!" + t.Key
	default:
		return t.Key
	}
}

func (t SelectorTerm) matches(labels map[string]string) bool {
	v, ok := labels[t.Key]
	switch t.Op {
	case OpEquals:
		return ok && v == t.Value
	case OpNotEquals:
		return !ok || v != t.Value
	case OpExists:
		return ok
	case OpNotExists:
		return !ok
	default:
		return false
	}
}

// maxSelectorTerms bounds the SQL one selector turns into.
const maxSelectorTerms = 64

// Selector picks devices by their labels: every term must hold. The zero Selector matches
// every device; ParseSelector never returns one.
type Selector struct {
	terms []SelectorTerm
}

// ParseSelector reads comma-separated terms: key=value, key!=value, key (present) and
// !key (absent). Spaces around terms, keys and values are ignored; a value runs to the
// next comma and may be empty. Duplicate terms collapse, so String is canonical.
func ParseSelector(field, s string) (Selector, error) {
	if strings.TrimSpace(s) == "" {
		return Selector{}, Fieldf(field, "is required")
	}
	parts := strings.Split(s, ",")
	if len(parts) > maxSelectorTerms {
		return Selector{}, Fieldf(field, "at most %d terms", maxSelectorTerms)
	}
	terms := make([]SelectorTerm, 0, len(parts))
	for i, part := range parts {
		t, err := parseTerm(strings.TrimSpace(part))
		if err != nil {
			return Selector{}, Fieldf(field, "term %d (%q): %s", i+1, strings.TrimSpace(part), err)
		}
		terms = append(terms, t)
	}
	sort.Slice(terms, func(i, j int) bool {
		a, b := terms[i], terms[j]
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		if a.Op != b.Op {
			return a.Op < b.Op
		}
		return a.Value < b.Value
	})
	out := terms[:0]
	for i, t := range terms {
		if i == 0 || t != terms[i-1] {
			out = append(out, t)
		}
	}
	return Selector{terms: out}, nil
}

func parseTerm(s string) (SelectorTerm, error) {
	if s == "" {
		return SelectorTerm{}, fmt.Errorf("is empty")
	}
	var t SelectorTerm
	if rest, ok := strings.CutPrefix(s, "!"); ok {
		if strings.HasPrefix(rest, "=") {
			return SelectorTerm{}, fmt.Errorf("label key is missing")
		}
		if strings.Contains(rest, "=") {
			return SelectorTerm{}, fmt.Errorf("!key takes no value; write key!=value")
		}
		t = SelectorTerm{Op: OpNotExists, Key: strings.TrimSpace(rest)}
	} else if i := strings.IndexByte(s, '='); i < 0 {
		t = SelectorTerm{Op: OpExists, Key: s}
	} else if i > 0 && s[i-1] == '!' {
		t = SelectorTerm{Op: OpNotEquals, Key: strings.TrimSpace(s[:i-1]), Value: strings.TrimSpace(s[i+1:])}
	} else {
		t = SelectorTerm{Op: OpEquals, Key: strings.TrimSpace(s[:i]), Value: strings.TrimSpace(s[i+1:])}
	}
	if t.Key == "" {
		return SelectorTerm{}, fmt.Errorf("label key is missing")
	}
	if !labelKeyRE.MatchString(t.Key) {
		return SelectorTerm{}, fmt.Errorf("label key must be lower-case letters, digits, '.', '_', '/' or '-' (max 63)")
	}
	if len(t.Value) > MaxLabelValueLen {
		return SelectorTerm{}, fmt.Errorf("label value longer than %d characters", MaxLabelValueLen)
	}
	if problem := textProblem(t.Value, MaxLabelValueLen); problem != "" {
		return SelectorTerm{}, fmt.Errorf("label value %s", problem)
	}
	return t, nil
}

// Matches reports whether a device with these labels is selected.
func (s Selector) Matches(labels map[string]string) bool {
	for _, t := range s.terms {
		if !t.matches(labels) {
			return false
		}
	}
	return true
}

// Terms returns the terms in canonical order; the store turns each into one condition
// with bound parameters.
func (s Selector) Terms() []SelectorTerm {
	return append([]SelectorTerm(nil), s.terms...)
}

// IsZero reports whether s has no terms (and so selects every device).
func (s Selector) IsZero() bool { return len(s.terms) == 0 }

// String renders the canonical form: terms sorted by key, then operator, then value.
func (s Selector) String() string {
	parts := make([]string, len(s.terms))
	for i, t := range s.terms {
		parts[i] = t.String()
	}
	return strings.Join(parts, ",")
}
