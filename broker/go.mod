module github.com/otaplane/ota/broker

go 1.26.0

require (
	github.com/jackc/pgx/v5 v5.13.0
	github.com/otaplane/ota/pkg v0.0.0
)

require (
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	github.com/otaplane/ota/proto v0.0.0 // indirect
	golang.org/x/sync v0.25.0 // indirect
	golang.org/x/text v0.44.0 // indirect
)

replace (
	github.com/otaplane/ota/pkg => ../pkg
	github.com/otaplane/ota/proto => ../proto
)
