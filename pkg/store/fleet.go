package store

import (
	"context"
	"fmt"

	"github.com/otaplane/ota/pkg/model"
)

// RowError is one problem with one row of a bulk input.
type RowError struct {
	Row     int    `json:"row"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// RowErrors rejects a whole batch; nothing of it was written. The store numbers rows
// from 1 in the order it was given them.
type RowErrors struct {
	Rows []RowError
}

func (e *RowErrors) Error() string {
	if len(e.Rows) == 1 {
		r := e.Rows[0]
		return fmt.Sprintf("row %d: %s: %s", r.Row, r.Field, r.Message)
	}
	return fmt.Sprintf("%d row errors", len(e.Rows))
}

// TooManyLabelsError lists devices a label change would leave with more than
// model.MaxLabels labels.
type TooManyLabelsError struct{ IDs []string }

func (e *TooManyLabelsError) Error() string { return "too many labels" }

// FleetStore persists device groups and bulk device changes. Every method is scoped to one
// tenant: another tenant's group or device ids are not found.
type FleetStore interface {
	// CreateGroup stores the group and its initial members (static groups), or nothing:
	// unknown device ids answer *MissingDevicesError, a taken name ErrConflict.
	CreateGroup(ctx context.Context, g model.Group, deviceIDs []string) (model.Group, error)
	// GetGroup returns the group with its member count, evaluated now for dynamic groups.
	GetGroup(ctx context.Context, tenantID, groupID string) (model.Group, error)
	// ListGroups pages by group id.
	ListGroups(ctx context.Context, tenantID string, p Page) ([]model.Group, error)
	DeleteGroup(ctx context.Context, tenantID, groupID string) error

	// AddGroupMembers adds all devices or none: unknown ids answer *MissingDevicesError.
	// Adding a member again changes nothing.
	AddGroupMembers(ctx context.Context, tenantID, groupID string, deviceIDs []string) error
	// RemoveGroupMembers removes the devices that are members and ignores the rest.
	RemoveGroupMembers(ctx context.Context, tenantID, groupID string, deviceIDs []string) error
	// ListGroupMembers pages a group's devices by device id; for a dynamic group these
	// are the devices matching its selector now.
	ListGroupMembers(ctx context.Context, tenantID, groupID string, p Page) ([]model.Device, error)
	// ResolveGroup returns every member's device id, ordered by id.
	ResolveGroup(ctx context.Context, tenantID, groupID string) ([]string, error)
	// ResolveSelector returns the ids of the devices matching sel now, ordered by id.
	ResolveSelector(ctx context.Context, tenantID string, sel model.Selector) ([]string, error)

	// LabelDevices sets and removes labels on all devices or none: unknown ids answer
	// *MissingDevicesError, a change leaving a device over the label limit
	// *TooManyLabelsError.
	LabelDevices(ctx context.Context, tenantID string, deviceIDs []string, set map[string]string, remove []string) error
	// ExistingDevices returns which of ids are already devices of the tenant, ordered by id.
	ExistingDevices(ctx context.Context, tenantID string, ids []string) ([]string, error)
	// ImportDevices creates all devices in one transaction or none; ids that already
	// exist answer *RowErrors naming their rows.
	ImportDevices(ctx context.Context, tenantID string, devices []model.Device) error
}
