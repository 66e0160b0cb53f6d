package model

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSelector(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  string // canonical form
		terms []SelectorTerm
	}{
		{"one equality", "region=eu", "region=eu", []SelectorTerm{{OpEquals, "region", "eu"}}},
		{"sorted by key", "model=x2,region=eu", "model=x2,region=eu", nil},
		{"canonical order", "region=eu, model=x2", "model=x2,region=eu", []SelectorTerm{
			{OpEquals, "model", "x2"}, {OpEquals, "region", "eu"}}},
		{"not equals", "region!=us", "region!=us", []SelectorTerm{{OpNotEquals, "region", "us"}}},
		{"exists", "canary", "canary", []SelectorTerm{{OpExists, "canary", ""}}},
		{"absent", "!canary", "!canary", []SelectorTerm{{OpNotExists, "canary", ""}}},
		{"every form", "!beta, tier , zone!=b,region=eu", "!beta,region=eu,tier,zone!=b", nil},
		{"spaces around key and value", " region = eu ", "region=eu", []SelectorTerm{{OpEquals, "region", "eu"}}},
		{"empty value", "region=", "region=", []SelectorTerm{{OpEquals, "region", ""}}},
		{"value with equals sign", "note=a=b", "note=a=b", []SelectorTerm{{OpEquals, "note", "a=b"}}},
		{"value with bang-equals", "note=a!=b", "note=a!=b", []SelectorTerm{{OpEquals, "note", "a!=b"}}},
		{"duplicates collapse", "region=eu,region=eu", "region=eu", []SelectorTerm{{OpEquals, "region", "eu"}}},
		{"same key, ops ordered", "a!=1,a=1,!a,a", "a=1,a!=1,a,!a", nil},
		{"key with prefix", "example.com/team=ota", "example.com/team=ota", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := ParseSelector("selector", tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, sel.String())
			if tt.terms != nil {
				assert.Equal(t, tt.terms, sel.Terms())
			}
			again, err := ParseSelector("selector", sel.String())
			require.NoError(t, err, "the canonical form parses")
			assert.Equal(t, sel, again, "the canonical form round-trips")
		})
	}
}

func TestParseSelectorRejects(t *testing.T) {
	tests := []struct {
		name, in, msg string
	}{
		{"empty", "", "is required"},
		{"blank", "   ", "is required"},
		{"empty term", "region=eu,,model=x", `term 2 ("")`},
		{"trailing comma", "region=eu,", "term 2"},
		{"upper-case key", "Region=eu", "label key must be"},
		{"key with space", "my key=1", "label key must be"},
		{"missing key", "=eu", "label key is missing"},
		{"missing key before bang-equals", "!=eu", "label key is missing"},
		{"absent with value", "!region=eu", "write key!=value"},
		{"bare bang", "!", "label key is missing"},
		{"long value", "k=" + strings.Repeat("v", MaxLabelValueLen+1), "longer than 256"},
		{"too many terms", strings.Repeat("a,", maxSelectorTerms) + "a", "at most 64 terms"},
		{"NUL in value", "k=a\x00b", "control characters"},
		{"newline in value", "k=a\nb", "control characters"},
		{"invalid UTF-8 in value", "k=\xff", "valid UTF-8"},
		{"NUL in key", "k\x00=v", "label key must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSelector("selector", tt.in)
			var fe *FieldError
			require.True(t, errors.As(err, &fe), "want *FieldError, got %v", err)
			assert.Equal(t, "selector", fe.Field)
			assert.Contains(t, fe.Message, tt.msg)
		})
	}
}

func TestSelectorMatches(t *testing.T) {
	labels := map[string]string{"region": "eu", "model": "x2", "canary": ""}
	tests := []struct {
		sel  string
		want bool
	}{
		{"region=eu", true},
		{"region=us", false},
		{"region=eu,model=x2", true},
		{"region=eu,model=x3", false},
		{"region!=us", true},
		{"region!=eu", false},
		{"zone!=b", true}, // absent labels differ from every value
		{"canary", true},
		{"canary=", true},
		{"zone", false},
		{"!zone", true},
		{"!canary", false},
		{"region=eu,!zone,canary,model!=x1", true},
		{"region=eu,region=us", false},
	}
	for _, tt := range tests {
		t.Run(tt.sel, func(t *testing.T) {
			sel, err := ParseSelector("selector", tt.sel)
			require.NoError(t, err)
			assert.Equal(t, tt.want, sel.Matches(labels))
		})
	}
	assert.True(t, Selector{}.Matches(labels), "the zero selector matches everything")
	assert.True(t, Selector{}.IsZero())
}

func TestSelectorTermsAreACopy(t *testing.T) {
	sel, err := ParseSelector("selector", "region=eu")
	require.NoError(t, err)
	sel.Terms()[0].Value = "us"
	assert.Equal(t, "region=eu", sel.String())
}

func TestGroupKindValid(t *testing.T) {
	tests := []struct {
		kind GroupKind
		want bool
	}{
		{GroupStatic, true},
		{GroupDynamic, true},
		{"", false},
		{"Static", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.kind.Valid(), "%q", tt.kind)
	}
}
