package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/store"
)

const (
	// maxBulkDevices bounds the device ids of one group or label request.
	maxBulkDevices = 100_000
	// maxImportRows bounds one import.
	maxImportRows = 100_000
)

// FleetService is the use cases of device groups, bulk labelling and device import.
type FleetService interface {
	CreateGroup(ctx context.Context, t model.Tenant, g NewGroup) (model.Group, error)
	GetGroup(ctx context.Context, t model.Tenant, id string) (model.Group, error)
	ListGroups(ctx context.Context, t model.Tenant, p store.Page) ([]model.Group, error)
	DeleteGroup(ctx context.Context, t model.Tenant, id string) error
	// AddMembers and RemoveMembers change a static group; a dynamic group's members come
	// from its selector.
	AddMembers(ctx context.Context, t model.Tenant, id string, deviceIDs []string) error
	RemoveMembers(ctx context.Context, t model.Tenant, id string, deviceIDs []string) error
	// ChangeMembers validates both lists before writing, adds, then removes. Each step is
	// all-or-nothing and idempotent, so retrying after a failure between them converges.
	ChangeMembers(ctx context.Context, t model.Tenant, id string, c MemberChange) (model.Group, error)
	// ListMembers pages a group's devices; for a dynamic group, those matching now.
	ListMembers(ctx context.Context, t model.Tenant, id string, p store.Page) ([]model.Device, error)
	// LabelDevices changes the labels of every listed device, or of none; it returns how
	// many devices it changed.
	LabelDevices(ctx context.Context, t model.Tenant, l BulkLabels) (int, error)
	// ImportDevices creates every device of a CSV or JSON document, or none. Bad rows
	// answer *store.RowErrors numbered as in the document: for CSV the line (the header
	// is row 1), for JSON the element's position from 1.
	ImportDevices(ctx context.Context, t model.Tenant, format ImportFormat, r io.Reader) (int, error)
}

// NewGroup is a group request.
type NewGroup struct {
	Name      string
	Kind      model.GroupKind
	Selector  string
	DeviceIDs []string
}

// MemberChange adds and removes static group members.
type MemberChange struct {
	Add    []string
	Remove []string
}

// BulkLabels sets and removes labels on many devices.
type BulkLabels struct {
	DeviceIDs []string
	Set       map[string]string
	Remove    []string
}

// ImportFormat is the document type of an import.
type ImportFormat int

const (
	// ImportCSV: header id,hardware_model,firmware_version[,labels][,transport]; labels as k=v;k2=v2.
	ImportCSV ImportFormat = iota + 1
	// ImportJSON: an array of objects shaped like POST /devices.
	ImportJSON
)

type fleetService struct {
	store store.FleetStore
}

var _ FleetService = (*fleetService)(nil)

// NewFleetService returns the FleetService.
func NewFleetService(st store.FleetStore) FleetService {
	return &fleetService{store: st}
}

// checkDeviceIDs validates a list of device ids and returns each id's index.
func checkDeviceIDs(field string, ids []string) (map[string]int, error) {
	if len(ids) > maxBulkDevices {
		return nil, model.Fieldf(field, "at most %d devices per request", maxBulkDevices)
	}
	seen := make(map[string]int, len(ids))
	for i, id := range ids {
		f := fmt.Sprintf("%s[%d]", field, i)
		if err := model.ValidateIdent(f, id); err != nil {
			return nil, err
		}
		if j, dup := seen[id]; dup {
			return nil, model.Fieldf(f, "duplicate of %s[%d] (%s)", field, j, id)
		}
		seen[id] = i
	}
	return seen, nil
}

// unknownDevices turns a store's missing-devices answer into an error naming the field.
func unknownDevices(field string, index map[string]int, err error) error {
	var missing *store.MissingDevicesError
	if !errors.As(err, &missing) || len(missing.IDs) == 0 {
		return err
	}
	return model.Fieldf(fmt.Sprintf("%s[%d]", field, index[missing.IDs[0]]),
		"unknown device %q (unknown in this request: %s)", missing.IDs[0], strings.Join(missing.IDs, ", "))
}

// notFoundUnlessUUID answers 404 for ids that cannot name a group, as for any other
// tenant's group.
func notFoundUnlessUUID(id string) error {
	if !model.IsUUID(id) {
		return fmt.Errorf("group %q: %w", id, store.ErrNotFound)
	}
	return nil
}

func (s *fleetService) CreateGroup(ctx context.Context, t model.Tenant, g NewGroup) (model.Group, error) {
	if err := model.ValidateName("name", g.Name); err != nil {
		return model.Group{}, err
	}
	if !g.Kind.Valid() {
		return model.Group{}, model.Fieldf("kind", "must be %q or %q", model.GroupStatic, model.GroupDynamic)
	}
	selector := ""
	if g.Kind == model.GroupDynamic {
		sel, err := model.ParseSelector("selector", g.Selector)
		if err != nil {
			return model.Group{}, err
		}
		selector = sel.String()
		if len(g.DeviceIDs) > 0 {
			return model.Group{}, model.Fieldf("device_ids", "a dynamic group's members are the devices matching its selector")
		}
	} else if g.Selector != "" {
		return model.Group{}, model.Fieldf("selector", "only dynamic groups have a selector")
	}
	index, err := checkDeviceIDs("device_ids", g.DeviceIDs)
	if err != nil {
		return model.Group{}, err
	}
	out, err := s.store.CreateGroup(ctx, model.Group{ID: uuid.NewString(), TenantID: t.ID, Name: g.Name,
		Kind: g.Kind, Selector: selector}, g.DeviceIDs)
	if errors.Is(err, store.ErrConflict) {
		return model.Group{}, model.Fieldf("name", "a group named %q already exists", g.Name)
	}
	if err != nil {
		return model.Group{}, unknownDevices("device_ids", index, err)
	}
	return out, nil
}

func (s *fleetService) GetGroup(ctx context.Context, t model.Tenant, id string) (model.Group, error) {
	if err := notFoundUnlessUUID(id); err != nil {
		return model.Group{}, err
	}
	return s.store.GetGroup(ctx, t.ID, id)
}

func (s *fleetService) ListGroups(ctx context.Context, t model.Tenant, p store.Page) ([]model.Group, error) {
	if err := checkUUIDCursor(p, "group"); err != nil {
		return nil, err
	}
	return s.store.ListGroups(ctx, t.ID, p)
}

func (s *fleetService) DeleteGroup(ctx context.Context, t model.Tenant, id string) error {
	if err := notFoundUnlessUUID(id); err != nil {
		return err
	}
	return s.store.DeleteGroup(ctx, t.ID, id)
}

func (s *fleetService) AddMembers(ctx context.Context, t model.Tenant, id string, deviceIDs []string) error {
	_, err := s.changeMembers(ctx, t, id, "device_ids", deviceIDs, "device_ids", nil)
	return err
}

func (s *fleetService) RemoveMembers(ctx context.Context, t model.Tenant, id string, deviceIDs []string) error {
	_, err := s.changeMembers(ctx, t, id, "device_ids", nil, "device_ids", deviceIDs)
	return err
}

func (s *fleetService) ChangeMembers(ctx context.Context, t model.Tenant, id string, c MemberChange) (model.Group, error) {
	return s.changeMembers(ctx, t, id, "add", c.Add, "remove", c.Remove)
}

// changeMembers names errors after the request's fields: add and remove, or device_ids.
func (s *fleetService) changeMembers(ctx context.Context, t model.Tenant, id, addField string, add []string,
	removeField string, remove []string) (model.Group, error) {
	if len(add) == 0 && len(remove) == 0 {
		if addField == removeField {
			return model.Group{}, model.Fieldf(addField, "must list at least one device")
		}
		return model.Group{}, model.Fieldf(addField, "%s or %s must list at least one device", addField, removeField)
	}
	addIndex, err := checkDeviceIDs(addField, add)
	if err != nil {
		return model.Group{}, err
	}
	if _, err := checkDeviceIDs(removeField, remove); err != nil {
		return model.Group{}, err
	}
	for i, dev := range remove {
		if j, both := addIndex[dev]; both {
			return model.Group{}, model.Fieldf(fmt.Sprintf("%s[%d]", removeField, i), "%s is also %s[%d]", dev, addField, j)
		}
	}
	g, err := s.GetGroup(ctx, t, id)
	if err != nil {
		return model.Group{}, err
	}
	if g.Kind == model.GroupDynamic {
		field := addField
		if len(add) == 0 {
			field = removeField
		}
		return model.Group{}, model.Fieldf(field, "group %q is dynamic: its members are the devices matching its selector %q; change their labels instead",
			g.Name, g.Selector)
	}
	if len(add) > 0 {
		if err := s.store.AddGroupMembers(ctx, t.ID, g.ID, add); err != nil {
			return model.Group{}, unknownDevices(addField, addIndex, err)
		}
	}
	if len(remove) > 0 {
		if err := s.store.RemoveGroupMembers(ctx, t.ID, g.ID, remove); err != nil {
			return model.Group{}, err
		}
	}
	return s.store.GetGroup(ctx, t.ID, g.ID)
}

func (s *fleetService) ListMembers(ctx context.Context, t model.Tenant, id string, p store.Page) ([]model.Device, error) {
	if err := notFoundUnlessUUID(id); err != nil {
		return nil, err
	}
	if err := checkDeviceCursor(p); err != nil {
		return nil, err
	}
	return s.store.ListGroupMembers(ctx, t.ID, id, p)
}

func (s *fleetService) LabelDevices(ctx context.Context, t model.Tenant, l BulkLabels) (int, error) {
	if len(l.DeviceIDs) == 0 {
		return 0, model.Fieldf("device_ids", "must list at least one device")
	}
	index, err := checkDeviceIDs("device_ids", l.DeviceIDs)
	if err != nil {
		return 0, err
	}
	if len(l.Set) == 0 && len(l.Remove) == 0 {
		return 0, model.Fieldf("set", "set or remove must name at least one label")
	}
	if err := model.ValidateLabels("set", l.Set); err != nil {
		return 0, err
	}
	for i, k := range l.Remove {
		field := fmt.Sprintf("remove[%d]", i)
		if err := model.ValidateLabelKey(field, k); err != nil {
			return 0, err
		}
		if _, both := l.Set[k]; both {
			return 0, model.Fieldf(field, "label %q is also in set", k)
		}
	}
	err = s.store.LabelDevices(ctx, t.ID, l.DeviceIDs, l.Set, l.Remove)
	var tooMany *store.TooManyLabelsError
	if errors.As(err, &tooMany) {
		return 0, model.Fieldf("set", "devices would have more than %d labels: %s", model.MaxLabels, strings.Join(tooMany.IDs, ", "))
	}
	if err != nil {
		return 0, unknownDevices("device_ids", index, err)
	}
	return len(l.DeviceIDs), nil
}

// importRow is one device of an import document and where it came from.
type importRow struct {
	row    int
	device model.Device
	// bad: the row could not be read into a device, so it is not validated further.
	bad bool
}

func (s *fleetService) ImportDevices(ctx context.Context, t model.Tenant, format ImportFormat, r io.Reader) (int, error) {
	var (
		rows []importRow
		errs []store.RowError
		err  error
	)
	switch format {
	case ImportCSV:
		rows, errs, err = readImportCSV(r)
	case ImportJSON:
		rows, errs, err = readImportJSON(r)
	default:
		return 0, fmt.Errorf("import: unknown format %d", format)
	}
	if err != nil {
		return 0, err
	}
	if len(rows) == 0 && len(errs) == 0 {
		return 0, model.Fieldf("rows", "no devices to import")
	}

	firstRow := make(map[string]int, len(rows))
	for i := range rows {
		ir := &rows[i]
		if ir.bad {
			continue
		}
		for _, e := range checkNewDevice(&ir.device) {
			errs = append(errs, rowError(ir.row, e))
		}
		if model.ValidateIdent("id", ir.device.ID) != nil {
			continue
		}
		if j, dup := firstRow[ir.device.ID]; dup {
			errs = append(errs, store.RowError{Row: ir.row, Field: "id",
				Message: fmt.Sprintf("duplicate of row %d (%s)", j, ir.device.ID)})
			continue
		}
		firstRow[ir.device.ID] = ir.row
	}
	if len(firstRow) > 0 {
		ids := make([]string, 0, len(firstRow))
		for id := range firstRow {
			ids = append(ids, id)
		}
		existing, err := s.store.ExistingDevices(ctx, t.ID, ids)
		if err != nil {
			return 0, err
		}
		for _, id := range existing {
			errs = append(errs, store.RowError{Row: firstRow[id], Field: "id", Message: fmt.Sprintf("device %q already exists", id)})
		}
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Row < errs[j].Row })
		return 0, &store.RowErrors{Rows: errs}
	}

	devices := make([]model.Device, len(rows))
	for i, ir := range rows {
		devices[i] = ir.device
		devices[i].TenantID = t.ID
	}
	err = s.store.ImportDevices(ctx, t.ID, devices)
	var rowErrs *store.RowErrors
	if errors.As(err, &rowErrs) {
		// The store numbers rows by position; answer with the document's numbers.
		out := make([]store.RowError, len(rowErrs.Rows))
		for i, re := range rowErrs.Rows {
			re.Row = rows[re.Row-1].row
			out[i] = re
		}
		return 0, &store.RowErrors{Rows: out}
	}
	if errors.Is(err, store.ErrConflict) {
		return 0, fmt.Errorf("import: a listed device was created meanwhile: %w", ErrConflict)
	}
	if err != nil {
		return 0, err
	}
	return len(devices), nil
}

func rowError(row int, err error) store.RowError {
	var fe *model.FieldError
	if errors.As(err, &fe) {
		return store.RowError{Row: row, Field: fe.Field, Message: fe.Message}
	}
	return store.RowError{Row: row, Message: err.Error()}
}

var csvColumns = []string{"id", "hardware_model", "firmware_version", "labels", "transport"}

// readImportCSV reads rows by header name. A malformed line ends reading; the errors
// found so far are returned with it.
func readImportCSV(r io.Reader) ([]importRow, []store.RowError, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // rows of the wrong width are reported, not fatal
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, model.Fieldf("rows", "the CSV is empty; expected a header row %s", strings.Join(csvColumns[:4], ","))
	}
	if err != nil {
		return nil, nil, csvError(err)
	}
	col := map[string]int{}
	var errs []store.RowError
	for i, name := range header {
		if i == 0 {
			name = strings.TrimPrefix(name, "\ufeff") // spreadsheet exports often start with a BOM
		}
		name = strings.ToLower(strings.TrimSpace(name))
		_, twice := col[name]
		switch {
		case !slices.Contains(csvColumns, name):
			errs = append(errs, store.RowError{Row: 1, Field: name,
				Message: "unknown column; the columns are " + strings.Join(csvColumns, ", ")})
		case twice:
			errs = append(errs, store.RowError{Row: 1, Field: name, Message: "column appears twice"})
		default:
			col[name] = i
		}
	}
	for _, name := range csvColumns[:3] {
		if _, ok := col[name]; !ok {
			errs = append(errs, store.RowError{Row: 1, Field: name, Message: "required column is missing from the header"})
		}
	}
	if len(errs) > 0 {
		return nil, errs, nil
	}

	var rows []importRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			errs = append(errs, store.RowError{Row: pe.StartLine, Message: "malformed CSV: " + pe.Err.Error()})
			return rows, errs, nil
		}
		if err != nil {
			return nil, nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		if len(rows) == maxImportRows {
			return nil, nil, model.Fieldf("rows", "at most %d devices per import", maxImportRows)
		}
		ir := importRow{row: line}
		if len(rec) != len(header) {
			errs = append(errs, store.RowError{Row: line,
				Message: fmt.Sprintf("has %d fields; the header has %d", len(rec), len(header))})
			ir.bad = true
			rows = append(rows, ir)
			continue
		}
		field := func(name string) string {
			if i, ok := col[name]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		ir.device = model.Device{ID: field("id"), HardwareModel: field("hardware_model"),
			FirmwareVersion: field("firmware_version"), Transport: model.Transport(field("transport"))}
		labels, lerr := parseLabels(field("labels"))
		if lerr != nil {
			errs = append(errs, store.RowError{Row: line, Field: "labels", Message: lerr.Error()})
			labels = map[string]string{} // the other columns are still checked
		}
		ir.device.Labels = labels
		rows = append(rows, ir)
	}
	return rows, errs, nil
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return model.Fieldf("rows", "malformed CSV on line %d: %v", pe.StartLine, pe.Err)
	}
	return fmt.Errorf("read CSV: %w", err)
}

// parseLabels reads k=v;k2=v2. Keys and values are validated with the device's labels.
func parseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range strings.Split(s, ";") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not key=value (labels are written k=v;k2=v2)", pair)
		}
		k = strings.TrimSpace(k)
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("label %q is given twice", k)
		}
		out[k] = strings.TrimSpace(v)
	}
	return out, nil
}

type importRecord struct {
	ID              string            `json:"id"`
	HardwareModel   string            `json:"hardware_model"`
	FirmwareVersion string            `json:"firmware_version"`
	Labels          map[string]string `json:"labels"`
	Transport       string            `json:"transport"`
}

// readImportJSON streams an array of devices, decoding each element strictly.
func readImportJSON(r io.Reader) ([]importRow, []store.RowError, error) {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, jsonError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, nil, model.Fieldf("rows", "must be a JSON array of devices")
	}
	var (
		rows []importRow
		errs []store.RowError
	)
	for dec.More() {
		if len(rows) == maxImportRows {
			return nil, nil, model.Fieldf("rows", "at most %d devices per import", maxImportRows)
		}
		n := len(rows) + 1
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, jsonError(err)
		}
		var rec importRecord
		el := json.NewDecoder(bytes.NewReader(raw))
		el.DisallowUnknownFields()
		if err := el.Decode(&rec); err != nil {
			errs = append(errs, jsonRowError(n, err))
			rows = append(rows, importRow{row: n, bad: true})
			continue
		}
		rows = append(rows, importRow{row: n, device: model.Device{ID: rec.ID, HardwareModel: rec.HardwareModel,
			FirmwareVersion: rec.FirmwareVersion, Labels: rec.Labels, Transport: model.Transport(rec.Transport)}})
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, nil, model.Fieldf("rows", "trailing data after the JSON array")
	}
	return rows, errs, nil
}

func jsonError(err error) error {
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return model.Fieldf("rows", "malformed JSON at byte %d: %v", syntax.Offset, err)
	case errors.Is(err, io.EOF):
		return model.Fieldf("rows", "the body is empty; expected a JSON array of devices")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return model.Fieldf("rows", "the JSON ends early")
	}
	return fmt.Errorf("read JSON: %w", err)
}

func jsonRowError(row int, err error) store.RowError {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if typeErr.Field == "" {
			return store.RowError{Row: row, Message: "must be a JSON object"}
		}
		return store.RowError{Row: row, Field: typeErr.Field, Message: fmt.Sprintf("must be of type %s", typeErr.Type)}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return store.RowError{Row: row, Field: strings.Trim(name, `"`), Message: "unknown field"}
	}
	return store.RowError{Row: row, Message: err.Error()}
}
