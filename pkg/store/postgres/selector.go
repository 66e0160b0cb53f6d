package postgres

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/otaplane/ota/pkg/model"
)

// selectorCondition compiles a label selector into a WHERE fragment over the devices
// table aliased as alias, with every value bound as a parameter.
func selectorCondition(alias string, sel model.Selector) (string, []any, error) {
	terms := sel.Terms()
	if len(terms) == 0 {
		return "TRUE", nil, nil
	}
	parts := make([]string, 0, len(terms))
	args := make([]any, 0, len(terms))
	for _, t := range terms {
		switch t.Op {
		case model.OpEquals, model.OpNotEquals:
			doc, err := json.Marshal(map[string]string{t.Key: t.Value})
			if err != nil {
				return "", nil, fmt.Errorf("selector term %s: %w", t, err)
			}
			cond := alias + ".labels @> ?::jsonb"
			if t.Op == model.OpNotEquals {
				cond = "NOT (" + cond + ")"
			}
			parts = append(parts, cond)
			args = append(args, string(doc))
		case model.OpExists:
			parts = append(parts, "jsonb_exists("+alias+".labels, ?)")
			args = append(args, t.Key)
		case model.OpNotExists:
			parts = append(parts, "NOT jsonb_exists("+alias+".labels, ?)")
			args = append(args, t.Key)
		default:
			return "", nil, fmt.Errorf("selector term %s: unknown operator", t)
		}
	}
	return strings.Join(parts, " AND "), args, nil
}
