package model

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateText(t *testing.T) {
	tests := []struct {
		name, in, msg string // msg "" = accepted
		max           int
	}{
		{"plain", "Rollout for the north sites", "", 100},
		{"unicode", "Übergang – ünf 设备", "", 100},
		{"empty", "", "", 100},
		{"NUL", "a\x00b", "control characters (U+0000 at byte 1)", 100},
		{"newline", "a\nb", "control characters", 100},
		{"escape", "\x1b[31mred", "control characters", 100},
		{"C1 control", "a\u0085b", "control characters (U+0085", 100},
		{"invalid UTF-8", "a\xffb", "valid UTF-8", 100},
		{"too long", strings.Repeat("x", 11), "at most 10 bytes", 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateText("note", tt.in, tt.max)
			if tt.msg == "" {
				assert.NoError(t, err)
				return
			}
			var fe *FieldError
			require.True(t, errors.As(err, &fe), "%v", err)
			assert.Equal(t, "note", fe.Field)
			assert.Contains(t, fe.Message, tt.msg)
		})
	}
}

func TestFreeTextFieldsRefuseWhatTheDatabaseCannotHold(t *testing.T) {
	for _, bad := range []string{"a\x00b", "a\xffb", "line\nbreak"} {
		assert.Error(t, ValidateName("name", bad), "%q", bad)
		assert.Error(t, ValidateLabels("labels", map[string]string{"k": bad}), "%q", bad)
	}
	assert.NoError(t, ValidateName("name", "Nordic sites – wave 1"))
	assert.NoError(t, ValidateLabels("labels", map[string]string{"k": "ünïcode"}))
}

func TestIsUUID(t *testing.T) {
	for in, want := range map[string]bool{
		"6ba7b810-9dad-11d1-80b4-00c04fd430c8":          true,
		"6BA7B810-9DAD-11D1-80B4-00C04FD430C8":          true,
		"urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8": false,
		"{6ba7b810-9dad-11d1-80b4-00c04fd430c8}":        false,
		"6ba7b8109dad11d180b400c04fd430c8":              false,
		"":                                              false,
		"x":                                             false,
	} {
		assert.Equal(t, want, IsUUID(in), "%q", in)
	}
}
