package fuota

import (
	"errors"

	"go.uber.org/cadence"
)

func errText(err error) string {
	var ce *cadence.CustomError
	if errors.As(err, &ce) {
		var detail string
		if ce.HasDetails() && ce.Details(&detail) == nil && detail != "" {
			return ce.Reason() + ": " + detail
		}
		return ce.Reason()
	}
	return err.Error()
}
