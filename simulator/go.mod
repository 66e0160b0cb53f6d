module github.com/otaplane/ota/simulator

go 1.26

require (
	github.com/eclipse/paho.mqtt.golang v1.5.1
	github.com/otaplane/ota/proto v0.0.0
	github.com/stretchr/testify v1.12.1
	go.uber.org/zap v1.28.0
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/gorilla/websocket v1.5.3 // indirect
	go.uber.org/multierr v1.10.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/net v0.44.0 // indirect
	golang.org/x/sync v0.17.0 // indirect
)

// Builds outside the workspace (GOWORK=off) resolve the protocol module from the repository.
replace github.com/otaplane/ota/proto => ../proto
