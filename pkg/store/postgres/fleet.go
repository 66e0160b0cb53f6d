package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/store"
)

var _ store.FleetStore = (*Store)(nil)

type groupRow struct {
	ID          string
	TenantID    string
	Name        string
	Kind        string
	Selector    string
	CreatedAt   time.Time
	MemberCount int
}

func (r groupRow) model() model.Group {
	return model.Group{ID: r.ID, TenantID: r.TenantID, Name: r.Name, Kind: model.GroupKind(r.Kind),
		Selector: r.Selector, CreatedAt: r.CreatedAt, MemberCount: r.MemberCount}
}

// selector parses a dynamic group's stored selector; it was canonical when written.
func (r groupRow) selector() (model.Selector, error) {
	sel, err := model.ParseSelector("selector", r.Selector)
	if err != nil {
		return model.Selector{}, fmt.Errorf("group %s: stored selector: %w", r.ID, err)
	}
	return sel, nil
}

const groupColumns = `id, tenant_id, name, kind, selector, created_at`

// lookupGroup reads one group without its member count.
func lookupGroup(db *gorm.DB, tenantID, groupID string) (groupRow, error) {
	var rows []groupRow
	if err := db.Raw(`SELECT `+groupColumns+` FROM device_groups WHERE tenant_id = ? AND id = ?`,
		tenantID, groupID).Scan(&rows).Error; err != nil {
		return groupRow{}, classify(err)
	}
	if len(rows) == 0 {
		return groupRow{}, classify(gorm.ErrRecordNotFound)
	}
	return rows[0], nil
}

// countMembers counts a group's members; for a dynamic group, the devices matching now.
func countMembers(db *gorm.DB, g groupRow) (int, error) {
	var n []int
	if model.GroupKind(g.Kind) == model.GroupStatic {
		if err := db.Raw(`SELECT count(*) AS n FROM device_group_members WHERE group_id = ?`, g.ID).
			Pluck("n", &n).Error; err != nil {
			return 0, classify(err)
		}
		return n[0], nil
	}
	sel, err := g.selector()
	if err != nil {
		return 0, err
	}
	cond, args, err := selectorCondition("d", sel)
	if err != nil {
		return 0, err
	}
	if err := db.Raw(`SELECT count(*) AS n FROM devices d WHERE d.tenant_id = ? AND `+cond,
		append([]any{g.TenantID}, args...)...).Pluck("n", &n).Error; err != nil {
		return 0, classify(err)
	}
	return n[0], nil
}

// missingDevices lists (up to maxMissingReported of) ids that are not devices of the tenant.
func missingDevices(db *gorm.DB, tenantID string, ids []string) error {
	var missing []string
	if err := db.Raw(`SELECT x.id FROM unnest(?::text[]) WITH ORDINALITY AS x(id, ord)
		LEFT JOIN devices d ON d.tenant_id = ? AND d.id = x.id WHERE d.id IS NULL ORDER BY x.ord LIMIT ?`,
		textArray(ids), tenantID, maxMissingReported).Pluck("id", &missing).Error; err != nil {
		return classify(err)
	}
	if len(missing) > 0 {
		return &store.MissingDevicesError{IDs: missing}
	}
	return nil
}

// addMembers inserts members after checking every device exists; existing members stay.
func addMembers(tx *gorm.DB, tenantID, groupID string, ids []string) error {
	if err := missingDevices(tx, tenantID, ids); err != nil {
		return err
	}
	return classify(tx.Exec(`INSERT INTO device_group_members (tenant_id, group_id, device_id)
		SELECT ?, ?, x.id FROM unnest(?::text[]) AS x(id) ON CONFLICT DO NOTHING`,
		tenantID, groupID, textArray(ids)).Error)
}

// CreateGroup implements store.FleetStore.
func (s *Store) CreateGroup(ctx context.Context, g model.Group, deviceIDs []string) (model.Group, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var out model.Group
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		var rows []groupRow
		if err := tx.Raw(`INSERT INTO device_groups (tenant_id, id, name, kind, selector) VALUES (?, ?, ?, ?, ?)
			RETURNING `+groupColumns, g.TenantID, g.ID, g.Name, string(g.Kind), g.Selector).Scan(&rows).Error; err != nil {
			return classify(err)
		}
		if len(deviceIDs) > 0 {
			if err := addMembers(tx, g.TenantID, g.ID, deviceIDs); err != nil {
				return err
			}
		}
		n, err := countMembers(tx, rows[0])
		if err != nil {
			return err
		}
		rows[0].MemberCount = n
		out = rows[0].model()
		return nil
	})
	if err != nil {
		return model.Group{}, fmt.Errorf("create group %q: %w", g.Name, err)
	}
	return out, nil
}

// GetGroup implements store.FleetStore.
func (s *Store) GetGroup(ctx context.Context, tenantID, groupID string) (model.Group, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	db := s.conn(ctx)
	g, err := lookupGroup(db, tenantID, groupID)
	if err != nil {
		return model.Group{}, fmt.Errorf("get group %s: %w", groupID, err)
	}
	if g.MemberCount, err = countMembers(db, g); err != nil {
		return model.Group{}, fmt.Errorf("get group %s: %w", groupID, err)
	}
	return g.model(), nil
}

// ListGroups implements store.FleetStore. Dynamic groups are counted one by one: each
// count is an indexed query, and a page holds at most a thousand groups.
func (s *Store) ListGroups(ctx context.Context, tenantID string, p store.Page) ([]model.Group, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	after := p.After
	if after == "" {
		after = "00000000-0000-0000-0000-000000000000"
	}
	db := s.conn(ctx)
	var rows []groupRow
	if err := db.Raw(`SELECT `+groupColumns+`,
		(SELECT count(*) FROM device_group_members m WHERE m.group_id = g.id) AS member_count
		FROM device_groups g WHERE tenant_id = ? AND id > ?::uuid ORDER BY id LIMIT ?`,
		tenantID, after, p.Limit).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("list groups: %w", classify(err))
	}
	out := make([]model.Group, len(rows))
	for i, r := range rows {
		if model.GroupKind(r.Kind) == model.GroupDynamic {
			n, err := countMembers(db, r)
			if err != nil {
				return nil, fmt.Errorf("list groups: %w", err)
			}
			r.MemberCount = n
		}
		out[i] = r.model()
	}
	return out, nil
}

// DeleteGroup implements store.FleetStore; memberships go with the group.
func (s *Store) DeleteGroup(ctx context.Context, tenantID, groupID string) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	res := s.conn(ctx).Exec(`DELETE FROM device_groups WHERE tenant_id = ? AND id = ?`, tenantID, groupID)
	if res.Error != nil {
		return fmt.Errorf("delete group %s: %w", groupID, classify(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete group %s: %w", groupID, classify(gorm.ErrRecordNotFound))
	}
	return nil
}

// lockStaticGroup keeps the group from being deleted until the transaction ends. A
// dynamic group has no member list, so it is not found here.
func lockStaticGroup(tx *gorm.DB, tenantID, groupID string) error {
	var ids []string
	if err := tx.Raw(`SELECT id FROM device_groups WHERE tenant_id = ? AND id = ? AND kind = ? FOR KEY SHARE`,
		tenantID, groupID, string(model.GroupStatic)).Pluck("id", &ids).Error; err != nil {
		return classify(err)
	}
	if len(ids) == 0 {
		return classify(gorm.ErrRecordNotFound)
	}
	return nil
}

// AddGroupMembers implements store.FleetStore.
func (s *Store) AddGroupMembers(ctx context.Context, tenantID, groupID string, deviceIDs []string) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockStaticGroup(tx, tenantID, groupID); err != nil {
			return err
		}
		return addMembers(tx, tenantID, groupID, deviceIDs)
	})
	if err != nil {
		return fmt.Errorf("add %d members to group %s: %w", len(deviceIDs), groupID, err)
	}
	return nil
}

// RemoveGroupMembers implements store.FleetStore.
func (s *Store) RemoveGroupMembers(ctx context.Context, tenantID, groupID string, deviceIDs []string) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockStaticGroup(tx, tenantID, groupID); err != nil {
			return err
		}
		return classify(tx.Exec(`DELETE FROM device_group_members
			WHERE tenant_id = ? AND group_id = ? AND device_id = ANY(?::text[])`,
			tenantID, groupID, textArray(deviceIDs)).Error)
	})
	if err != nil {
		return fmt.Errorf("remove %d members from group %s: %w", len(deviceIDs), groupID, err)
	}
	return nil
}

// ListGroupMembers implements store.FleetStore.
func (s *Store) ListGroupMembers(ctx context.Context, tenantID, groupID string, p store.Page) ([]model.Device, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	db := s.conn(ctx)
	g, err := lookupGroup(db, tenantID, groupID)
	if err != nil {
		return nil, fmt.Errorf("list members of group %s: %w", groupID, err)
	}
	var rows []deviceRow
	if model.GroupKind(g.Kind) == model.GroupStatic {
		err = db.Raw(`SELECT `+deviceColumns+` FROM devices WHERE tenant_id = ? AND id IN (
			SELECT device_id FROM device_group_members WHERE group_id = ? AND device_id > ?
			ORDER BY device_id LIMIT ?) ORDER BY id`, tenantID, groupID, p.After, p.Limit).Scan(&rows).Error
	} else {
		var sel model.Selector
		if sel, err = g.selector(); err != nil {
			return nil, fmt.Errorf("list members of group %s: %w", groupID, err)
		}
		cond, args, serr := selectorCondition("d", sel)
		if serr != nil {
			return nil, fmt.Errorf("list members of group %s: %w", groupID, serr)
		}
		args = append([]any{tenantID, p.After}, args...)
		err = db.Raw(`SELECT `+deviceColumns+` FROM devices d WHERE d.tenant_id = ? AND d.id > ? AND `+cond+`
			ORDER BY d.id LIMIT ?`, append(args, p.Limit)...).Scan(&rows).Error
	}
	if err != nil {
		return nil, fmt.Errorf("list members of group %s: %w", groupID, classify(err))
	}
	out := make([]model.Device, 0, len(rows))
	for _, r := range rows {
		d, err := r.model()
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// ResolveGroup implements store.FleetStore.
func (s *Store) ResolveGroup(ctx context.Context, tenantID, groupID string) ([]string, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	db := s.conn(ctx)
	g, err := lookupGroup(db, tenantID, groupID)
	if err != nil {
		return nil, fmt.Errorf("resolve group %s: %w", groupID, err)
	}
	if model.GroupKind(g.Kind) == model.GroupDynamic {
		sel, err := g.selector()
		if err != nil {
			return nil, fmt.Errorf("resolve group %s: %w", groupID, err)
		}
		ids, err := resolveSelector(db, tenantID, sel)
		if err != nil {
			return nil, fmt.Errorf("resolve group %s: %w", groupID, err)
		}
		return ids, nil
	}
	var ids []string
	if err := db.Raw(`SELECT device_id FROM device_group_members WHERE group_id = ? ORDER BY device_id`,
		groupID).Pluck("device_id", &ids).Error; err != nil {
		return nil, fmt.Errorf("resolve group %s: %w", groupID, classify(err))
	}
	return ids, nil
}

// ResolveSelector implements store.FleetStore.
func (s *Store) ResolveSelector(ctx context.Context, tenantID string, sel model.Selector) ([]string, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	ids, err := resolveSelector(s.conn(ctx), tenantID, sel)
	if err != nil {
		return nil, fmt.Errorf("resolve selector %q: %w", sel, err)
	}
	return ids, nil
}

func resolveSelector(db *gorm.DB, tenantID string, sel model.Selector) ([]string, error) {
	cond, args, err := selectorCondition("d", sel)
	if err != nil {
		return nil, err
	}
	var ids []string
	if err := db.Raw(`SELECT d.id FROM devices d WHERE d.tenant_id = ? AND `+cond+` ORDER BY d.id`,
		append([]any{tenantID}, args...)...).Pluck("id", &ids).Error; err != nil {
		return nil, classify(err)
	}
	return ids, nil
}

// LabelDevices implements store.FleetStore: removals first, then sets, in one statement.
func (s *Store) LabelDevices(ctx context.Context, tenantID string, deviceIDs []string, set map[string]string, remove []string) error {
	if set == nil {
		set = map[string]string{}
	}
	doc, err := json.Marshal(set)
	if err != nil {
		return fmt.Errorf("label devices: %w", err)
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	err = s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		if err := missingDevices(tx, tenantID, deviceIDs); err != nil {
			return err
		}
		if err := tx.Exec(`UPDATE devices SET labels = (labels - ?::text[]) || ?::jsonb, updated_at = now()
			WHERE tenant_id = ? AND id = ANY(?::text[])`,
			textArray(remove), string(doc), tenantID, textArray(deviceIDs)).Error; err != nil {
			return classify(err)
		}
		if len(set) == 0 {
			return nil
		}
		var over []string
		if err := tx.Raw(`SELECT id FROM devices WHERE tenant_id = ? AND id = ANY(?::text[])
			AND (SELECT count(*) FROM jsonb_object_keys(labels)) > ? ORDER BY id LIMIT ?`,
			tenantID, textArray(deviceIDs), model.MaxLabels, maxMissingReported).Pluck("id", &over).Error; err != nil {
			return classify(err)
		}
		if len(over) > 0 {
			return &store.TooManyLabelsError{IDs: over}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("label %d devices: %w", len(deviceIDs), err)
	}
	return nil
}

// ExistingDevices implements store.FleetStore.
func (s *Store) ExistingDevices(ctx context.Context, tenantID string, ids []string) ([]string, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var found []string
	if err := s.conn(ctx).Raw(`SELECT id FROM devices WHERE tenant_id = ? AND id = ANY(?::text[]) ORDER BY id`,
		tenantID, textArray(ids)).Pluck("id", &found).Error; err != nil {
		return nil, fmt.Errorf("existing devices: %w", classify(err))
	}
	return found, nil
}

// ImportDevices implements store.FleetStore with one INSERT over parallel arrays, so ten
// thousand devices cost one round trip. A device created concurrently after the check
// surfaces as ErrConflict.
func (s *Store) ImportDevices(ctx context.Context, tenantID string, devices []model.Device) error {
	n := len(devices)
	ids, transports, models, versions, labels := make(textArray, n), make(textArray, n), make(textArray, n),
		make(textArray, n), make(textArray, n)
	for i, d := range devices {
		l := d.Labels
		if l == nil {
			l = map[string]string{}
		}
		doc, err := json.Marshal(l)
		if err != nil {
			return fmt.Errorf("import devices: row %d labels: %w", i+1, err)
		}
		ids[i], transports[i], models[i], versions[i], labels[i] = d.ID, string(d.Transport), d.HardwareModel,
			d.FirmwareVersion, string(doc)
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		var existing []struct {
			ID  string
			Ord int
		}
		if err := tx.Raw(`SELECT x.id, x.ord FROM unnest(?::text[]) WITH ORDINALITY AS x(id, ord)
			JOIN devices d ON d.tenant_id = ? AND d.id = x.id ORDER BY x.ord`,
			ids, tenantID).Scan(&existing).Error; err != nil {
			return classify(err)
		}
		if len(existing) > 0 {
			rows := make([]store.RowError, len(existing))
			for i, e := range existing {
				rows[i] = store.RowError{Row: e.Ord, Field: "id", Message: fmt.Sprintf("device %q already exists", e.ID)}
			}
			return &store.RowErrors{Rows: rows}
		}
		return classify(tx.Exec(`INSERT INTO devices (tenant_id, id, transport, hardware_model, firmware_version, labels)
			SELECT ?, x.id, x.transport, x.hardware_model, x.firmware_version, x.labels::jsonb
			FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[])
				AS x(id, transport, hardware_model, firmware_version, labels)`,
			tenantID, ids, transports, models, versions, labels).Error)
	})
	if err != nil {
		return fmt.Errorf("import %d devices: %w", n, err)
	}
	return nil
}
