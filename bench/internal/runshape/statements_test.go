package runshape

import (
	"testing"

	"github.com/otaplane/ota/bench/internal/stack"
)

func TestStatementCost(t *testing.T) {
	before := map[string]stack.Statement{
		"COMMIT":             {Query: "COMMIT", Calls: 10},
		"INSERT INTO a":      {Query: "INSERT INTO a", Calls: 5, Rows: 5, ExecMS: 1},
		"SELECT idle FROM x": {Query: "SELECT idle FROM x", Calls: 7, Rows: 7},
	}
	after := map[string]stack.Statement{
		"COMMIT":             {Query: "COMMIT", Calls: 30},
		"INSERT INTO a":      {Query: "INSERT INTO a", Calls: 45, Rows: 45, ExecMS: 9},
		"SELECT idle FROM x": {Query: "SELECT idle FROM x", Calls: 7, Rows: 7},
		"SELECT new FROM y":  {Query: "SELECT new FROM y", Calls: 10, Rows: 100, ExecMS: 2},
	}
	got := statementCost(before, after, 10)
	if got.Statements != 7 || got.Transactions != 2 || got.ExecMS != 1 {
		t.Fatalf("statements %.2f, transactions %.2f, exec %.2f ms per device; want 7, 2, 1", got.Statements,
			got.Transactions, got.ExecMS)
	}
	want := []StatementShare{
		{Query: "INSERT INTO a", Calls: 4, Rows: 4, ExecMS: 0.8},
		{Query: "COMMIT", Calls: 2},
		{Query: "SELECT new FROM y", Calls: 1, Rows: 10, ExecMS: 0.2},
	}
	if len(got.Top) != len(want) {
		t.Fatalf("top %+v, want %+v (a statement that did not run is left out)", got.Top, want)
	}
	for i := range want {
		if got.Top[i] != want[i] {
			t.Errorf("top[%d] = %+v, want %+v", i, got.Top[i], want[i])
		}
	}
}
