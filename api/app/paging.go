package app

import (
	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/store"
)

// A page's cursor (after) is the last id of the previous page, as next_after gave it; a
// cursor that cannot be such an id is refused here rather than handed to the database.

// checkDeviceCursor validates the cursor of a list ordered by device id.
func checkDeviceCursor(p store.Page) error {
	if p.After != "" && model.ValidateIdent("after", p.After) != nil {
		return model.Fieldf("after", "must be a device id (the previous page's next_after)")
	}
	return nil
}

// checkUUIDCursor validates the cursor of a list ordered by a UUID id (what: firmware,
// group, campaign).
func checkUUIDCursor(p store.Page, what string) error {
	if p.After != "" && !model.IsUUID(p.After) {
		return model.Fieldf("after", "must be a %s id (UUID, the previous page's next_after)", what)
	}
	return nil
}
