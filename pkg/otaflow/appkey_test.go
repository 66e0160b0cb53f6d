package otaflow

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppKeySealing(t *testing.T) {
	const key = "00112233445566778899aabbccddeeff"
	sealed, err := SealAppKey("shared-secret-0123456789", "0102030405060708", key)
	require.NoError(t, err)
	assert.NotContains(t, sealed, key)

	got, err := OpenAppKey("shared-secret-0123456789", "0102030405060708", sealed)
	require.NoError(t, err)
	assert.Equal(t, key, got)

	_, err = OpenAppKey("another-secret-0123456789", "0102030405060708", sealed)
	assert.ErrorIs(t, err, ErrSealedKey)
	_, err = OpenAppKey("shared-secret-0123456789", "0102030405060709", sealed)
	assert.ErrorIs(t, err, ErrSealedKey, "bound to the DevEUI")
	_, err = OpenAppKey("shared-secret-0123456789", "0102030405060708", strings.ToUpper(sealed))
	assert.ErrorIs(t, err, ErrSealedKey)
}
