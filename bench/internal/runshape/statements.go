package runshape

import (
	"cmp"
	"slices"

	"github.com/otaplane/ota/bench/internal/stack"
)

// topStatements is how many statements a run's breakdown lists.
const topStatements = 15

// StatementCost is what Cadence's databases ran during one run, per device run.
type StatementCost struct {
	Statements   float64          `json:"statements_per_device"`
	Transactions float64          `json:"transactions_per_device"`
	ExecMS       float64          `json:"exec_ms_per_device"`
	Top          []StatementShare `json:"top"`
}

// StatementShare is one statement's part of a run, per device run.
type StatementShare struct {
	Query  string  `json:"query"`
	Calls  float64 `json:"calls_per_device"`
	Rows   float64 `json:"rows_per_device"`
	ExecMS float64 `json:"exec_ms_per_device"`
}

// statementCost is what ran between two samples, divided by the devices of the run; the
// most frequent statements come first.
func statementCost(before, after map[string]stack.Statement, devices int) StatementCost {
	n := float64(devices)
	var c StatementCost
	var shares []StatementShare
	for q, a := range after {
		b := before[q]
		calls := a.Calls - b.Calls
		if calls <= 0 {
			continue
		}
		s := StatementShare{Query: q, Calls: float64(calls) / n, Rows: float64(a.Rows-b.Rows) / n,
			ExecMS: (a.ExecMS - b.ExecMS) / n}
		c.Statements += s.Calls
		c.ExecMS += s.ExecMS
		if q == "COMMIT" {
			c.Transactions = s.Calls
		}
		shares = append(shares, s)
	}
	slices.SortFunc(shares, func(x, y StatementShare) int {
		return cmp.Or(cmp.Compare(y.Calls, x.Calls), cmp.Compare(x.Query, y.Query))
	})
	c.Top = shares[:min(len(shares), topStatements)]
	return c
}
