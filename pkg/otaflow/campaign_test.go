package otaflow

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otaplane/ota/pkg/model"
)

func TestCampaignPolicyWaveNames(t *testing.T) {
	for name, field := range map[string]string{
		"canary":                                 "",
		"Welle 1 – Nord":                         "",
		"a\x00b":                                 "rollout.waves[0].name",
		"two\nlines":                             "rollout.waves[0].name",
		"\xff":                                   "rollout.waves[0].name",
		string(make([]byte, model.MaxNameLen+1)): "rollout.waves[0].name",
	} {
		err := CampaignPolicy{Waves: []Wave{{Name: name, Percent: 50}, {Percent: 100}}}.Validate("rollout.")
		if field == "" {
			assert.NoError(t, err, "%q", name)
			continue
		}
		var fe *model.FieldError
		require.True(t, errors.As(err, &fe), "%q: %v", name, err)
		assert.Equal(t, field, fe.Field)
	}
}
