package model

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ValidateText checks free text bound for the database, logs and JSON answers: valid
// UTF-8 without control characters, at most maxLen bytes. PostgreSQL text cannot hold
// NUL or invalid UTF-8 at all, and the other control characters (newlines, escapes) have
// no place in names, labels or reasons.
func ValidateText(field, v string, maxLen int) error {
	if problem := textProblem(v, maxLen); problem != "" {
		return Fieldf(field, "%s", problem)
	}
	return nil
}

// textProblem says what is wrong with v as free text ("" = nothing).
func textProblem(v string, maxLen int) string {
	if len(v) > maxLen {
		return fmt.Sprintf("must be at most %d bytes", maxLen)
	}
	if !utf8.ValidString(v) {
		return "must be valid UTF-8"
	}
	if i := strings.IndexFunc(v, unicode.IsControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(v[i:])
		return fmt.Sprintf("must not contain control characters (U+%04X at byte %d)", r, i)
	}
	return ""
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// IsUUID reports whether v is a UUID in its 36-character form, the only form the API
// issues. Looser forms (braces, "urn:uuid:") are refused: PostgreSQL does not read all
// of them.
func IsUUID(v string) bool { return uuidRE.MatchString(v) }
