module github.com/otaplane/ota/simulator

go 1.26.0

require (
	github.com/chirpstack/chirpstack/api/go/v4 v4.15.0
	github.com/eclipse/paho.mqtt.golang v1.5.1
	github.com/otaplane/ota/proto v0.0.0
	github.com/stretchr/testify v1.12.1
	go.uber.org/zap v1.28.0
	google.golang.org/grpc v1.85.0
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/gorilla/websocket v1.5.3 // indirect
	go.uber.org/multierr v1.10.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sync v0.23.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	google.golang.org/genproto/googleapis/api v0.0.0-20260817212433-ac3dfec99bb1 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260817212433-ac3dfec99bb1 // indirect
)

// Builds outside the workspace (GOWORK=off) resolve the protocol module from the repository.
replace github.com/otaplane/ota/proto => ../proto
