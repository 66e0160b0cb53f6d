package access

import "errors"

// ErrFourEyes: the tenant requires a second key and the caller is the campaign's creator.
var ErrFourEyes = errors.New("four-eyes rule: a campaign is executed and its gates approved by a different API key than the one that created it")

// FourEyes decides whether actorKeyID may execute or approve a campaign created by
// creatorKeyID. A campaign without a recorded creator (made before keys were tracked)
// cannot prove a second pair of eyes, so it is refused too while the rule is on.
func FourEyes(enabled bool, creatorKeyID, actorKeyID string) error {
	if !enabled {
		return nil
	}
	if creatorKeyID == "" || creatorKeyID == actorKeyID {
		return ErrFourEyes
	}
	return nil
}
