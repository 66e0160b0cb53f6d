package model

import "time"

// GroupKind says where a group's members come from.
type GroupKind string

const (
	// GroupStatic lists its members explicitly.
	GroupStatic GroupKind = "static"
	// GroupDynamic holds every device whose labels match its selector at the time asked.
	GroupDynamic GroupKind = "dynamic"
)

// Valid reports whether k is a known kind.
func (k GroupKind) Valid() bool { return k == GroupStatic || k == GroupDynamic }

// Group is a named set of devices of one tenant.
type Group struct {
	ID       string    `json:"id"`
	TenantID string    `json:"-"`
	Name     string    `json:"name"`
	Kind     GroupKind `json:"kind"`
	// Selector is canonical (see Selector.String) and set only for dynamic groups.
	Selector    string    `json:"selector,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	MemberCount int       `json:"member_count"`
}
