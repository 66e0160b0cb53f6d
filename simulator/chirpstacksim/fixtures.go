package chirpstacksim

import (
	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"github.com/chirpstack/chirpstack/api/go/v4/common"
)

// FUOTADeviceProfile is a device profile that a real ChirpStack can run FUOTA
// deployments for: EU868, LoRaWAN 1.0.4 OTAA, Class-C, with the TS004
// (fragmentation) and TS005 (multicast setup) packages on their usual ports.
func FUOTADeviceProfile(tenantID, name string) *api.DeviceProfile {
	return &api.DeviceProfile{
		TenantId:          tenantID,
		Name:              name,
		Region:            common.Region_EU868,
		MacVersion:        common.MacVersion_LORAWAN_1_0_4,
		RegParamsRevision: common.RegParamsRevision_RP002_1_0_3,
		AdrAlgorithmId:    "default",
		SupportsOtaa:      true,
		SupportsClassC:    true,
		ClassCTimeout:     5,
		UplinkInterval:    3600,
		AppLayerParams: &api.AppLayerParams{
			Ts004Version: api.Ts004Version_TS004_V100,
			Ts004FPort:   201,
			Ts005Version: api.Ts005Version_TS005_V100,
			Ts005FPort:   200,
		},
	}
}
