package model

import (
	"errors"
	"testing"
)

// FuzzParseSelector: a selector either is refused with a FieldError naming the field, or
// is canonical — its terms valid, sorted and unique, its String parsing back to itself.
func FuzzParseSelector(f *testing.F) {
	for _, seed := range []string{"region=eu", "!beta, tier , zone!=b,region=eu", "note=a!=b", "a!=1,a=1,!a,a",
		"example.com/team=ota", "k=", "=v", "!", "!k=v", "k=a\x00b", "k=\xff", ",,", "k= v ,k=v", "k=\u0085v"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		sel, err := ParseSelector("selector", in)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "selector" {
				t.Fatalf("error %v does not name the field", err)
			}
			return
		}
		terms := sel.Terms()
		if len(terms) == 0 || len(terms) > maxSelectorTerms {
			t.Fatalf("%d terms", len(terms))
		}
		for i, term := range terms {
			if ValidateLabelKey("k", term.Key) != nil {
				t.Fatalf("term %d: key %q", i, term.Key)
			}
			if err := ValidateText("v", term.Value, MaxLabelValueLen); err != nil {
				t.Fatalf("term %d: value %q: %v", i, term.Value, err)
			}
			if (term.Op == OpExists || term.Op == OpNotExists) && term.Value != "" {
				t.Fatalf("term %d: %s with value %q", i, term.Op, term.Value)
			}
			if i > 0 && !termLess(terms[i-1], term) {
				t.Fatalf("terms %d and %d out of order or repeated: %v", i-1, i, terms)
			}
		}
		again, err := ParseSelector("selector", sel.String())
		if err != nil {
			t.Fatalf("canonical form %q does not parse: %v", sel.String(), err)
		}
		if again.String() != sel.String() || len(again.Terms()) != len(terms) {
			t.Fatalf("%q reads back as %q", sel.String(), again.String())
		}
		for i, term := range again.Terms() {
			if term != terms[i] {
				t.Fatalf("term %d: %v reads back as %v", i, terms[i], term)
			}
		}
	})
}

// termLess is the canonical order: key, then operator, then value.
func termLess(a, b SelectorTerm) bool {
	if a.Key != b.Key {
		return a.Key < b.Key
	}
	if a.Op != b.Op {
		return a.Op < b.Op
	}
	return a.Value < b.Value
}
