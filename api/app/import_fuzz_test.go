package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/store"
)

// FuzzImportDevices feeds CSV and JSON documents to the import. It must answer a bad
// document with errors the API maps to 400 and write nothing; what it writes must pass
// the registry's rules and read back the same when written out in the same format.
func FuzzImportDevices(f *testing.F) {
	for _, seed := range []struct {
		json bool
		doc  string
	}{
		{false, "id,hardware_model,firmware_version,labels\na1,m1,1.0.0,region=eu;tier=gold\na2,m1,1.0.0-rc.1,\n"},
		{false, "\ufefffirmware_version,id,hardware_model,transport\n1.0.0,a1,m1,mqtt\n"},
		{false, "id,hardware_model,firmware_version,labels\na1,m1,1.0.0,note=a\x00b\n"},
		{false, "id,hardware_model,firmware_version,labels\na1,m1,1.0.0,note=\xff\n"},
		{false, "id,hardware_model,firmware_version\n\"a1,m1,1.0.0\n"},
		{false, "id,id\n"},
		{true, `[{"id":"a1","hardware_model":"m1","firmware_version":"1.0.0","labels":{"region":"eu","note":"a;b=c"}}]`},
		{true, `[{"id":"a1","hardware_model":"m1","firmware_version":"1.0.0","labels":{"note":"a\u0000b"}}]`},
		{true, `[7, {"colour":"red"}, []]`},
		{true, `[{"id":"exists","hardware_model":"m1","firmware_version":"1.0.0"}] x`},
	} {
		f.Add(seed.json, []byte(seed.doc))
	}
	f.Fuzz(func(t *testing.T, isJSON bool, doc []byte) {
		format := ImportCSV
		if isJSON {
			format = ImportJSON
		}
		st := newFakeFleet("exists")
		n, err := NewFleetService(st).ImportDevices(context.Background(), tenantA, format, bytes.NewReader(doc))
		if err != nil {
			checkImportRefusal(t, err)
			if len(st.imported) > 0 {
				t.Fatalf("a refused import wrote %d devices", len(st.imported))
			}
			return
		}
		if n == 0 || n != len(st.imported) {
			t.Fatalf("imported %d, wrote %d", n, len(st.imported))
		}
		seen := map[string]bool{}
		for _, d := range st.imported {
			again := d
			if errs := checkNewDevice(&again); len(errs) > 0 {
				t.Fatalf("written device %+v breaks the rules: %v", d, errs)
			}
			if seen[d.ID] || d.ID == "exists" {
				t.Fatalf("device %q written twice or over an existing one", d.ID)
			}
			seen[d.ID] = true
		}
		back := newFakeFleet("exists")
		if _, err := NewFleetService(back).ImportDevices(context.Background(), tenantA, format,
			bytes.NewReader(exportDevices(t, format, st.imported))); err != nil {
			t.Fatalf("the imported devices, written out again, are refused: %v", err)
		}
		if !reflect.DeepEqual(st.imported, back.imported) {
			t.Fatalf("devices changed on a round trip:\n%+v\n%+v", st.imported, back.imported)
		}
	})
}

// checkImportRefusal: only errors the API answers with 400 naming the rows or a field.
func checkImportRefusal(t *testing.T, err error) {
	t.Helper()
	var fe *model.FieldError
	var re *store.RowErrors
	switch {
	case errors.As(err, &re):
		if len(re.Rows) == 0 {
			t.Fatal("row errors without rows")
		}
		for i, r := range re.Rows {
			if r.Row < 1 || (i > 0 && r.Row < re.Rows[i-1].Row) {
				t.Fatalf("rows not numbered from 1 in order: %+v", re.Rows)
			}
		}
	case errors.As(err, &fe):
		if fe.Field == "" {
			t.Fatalf("field error without a field: %v", err)
		}
	default:
		t.Fatalf("error %v would answer 500", err)
	}
}

// exportDevices writes devices in an import format.
func exportDevices(t *testing.T, format ImportFormat, ds []model.Device) []byte {
	t.Helper()
	var buf bytes.Buffer
	if format == ImportJSON {
		recs := make([]importRecord, len(ds))
		for i, d := range ds {
			recs[i] = importRecord{ID: d.ID, HardwareModel: d.HardwareModel, FirmwareVersion: d.FirmwareVersion,
				Labels: d.Labels, Transport: string(d.Transport)}
		}
		if err := json.NewEncoder(&buf).Encode(recs); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	w := csv.NewWriter(&buf)
	_ = w.Write(csvColumns)
	for _, d := range ds {
		keys := make([]string, 0, len(d.Labels))
		for k := range d.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		pairs := make([]string, len(keys))
		for i, k := range keys {
			pairs[i] = k + "=" + d.Labels[k]
		}
		_ = w.Write([]string{d.ID, d.HardwareModel, d.FirmwareVersion, strings.Join(pairs, ";"), string(d.Transport)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
