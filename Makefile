# Two commands matter on a fresh machine: `make run` and `make test` (see README).
SHELL := /bin/bash
GO ?= go
MODULES := pkg proto api worker simulator otactl bench integration
BIN := bin

.PHONY: run test unit integration build devserver proto vet bench bench-runshape chaos fuzz clean stop

## run: the whole system with built-in defaults and a simulated fleet (Ctrl-C stops it)
run: build devserver
	@scripts/run.sh

## test: unit tests of every module, then integration tests on real Cadence/Postgres/Mosquitto
test:
	@scripts/test.sh

## build: api, worker, simulator, ChirpStack test server and otactl binaries and the broker's authentication plugin into bin/
build:
	@mkdir -p $(BIN)
	cd api && $(GO) build -o ../$(BIN)/ota-api ./cmd/ota-api
	cd worker && $(GO) build -o ../$(BIN)/ota-worker ./cmd/ota-worker
	cd simulator && $(GO) build -o ../$(BIN)/ota-devsim ./cmd/ota-devsim
	cd simulator && $(GO) build -o ../$(BIN)/chirpstack-sim ./cmd/chirpstack-sim
	cd otactl && $(GO) build -o ../$(BIN)/otactl ./cmd/otactl
	@scripts/broker.sh build

## bench: benchmark on the real stack → bench/results.md, bench/results.json (BENCH_FLAGS='-sizes 200' for a quick one)
bench:
	@scripts/bench.sh $(BENCH_FLAGS)

## bench-runshape: Cadence's cost per device run, a workflow per device against several devices per workflow → bench/runshape/ (RUNSHAPE_FLAGS='-devices 1000' for a quick one)
bench-runshape:
	@scripts/bench-runshape.sh $(RUNSHAPE_FLAGS)

## chaos: campaigns on the real stack while a worker, the broker or PostgreSQL fails → bench/chaos.md, bench/chaos.json (CHAOS_FLAGS='-faults broker-restart' for one)
chaos:
	@scripts/chaos.sh $(CHAOS_FLAGS)

## devserver: the in-process Cadence development server (own module, first build ~3 min)
devserver:
	@scripts/cadence-devserver.sh build

## fuzz: every fuzz target in the repo, FUZZTIME each (default 20s; FUZZTIME=1m make fuzz)
fuzz:
	@scripts/fuzz.sh

## unit: unit tests only (no services needed)
unit:
	@for m in pkg proto api worker otactl; do (cd $$m && $(GO) test -count=1 ./...) || exit 1; done

## vet: go vet every module
vet:
	@for m in $(MODULES); do (cd $$m && $(GO) vet ./...) || exit 1; done

## proto: regenerate the device protocol's Go code
proto:
	@command -v protoc >/dev/null || { apt-get update -qq && apt-get install -y -qq protobuf-compiler; }
	@command -v protoc-gen-go >/dev/null || $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	cd proto && protoc --go_out=. --go_opt=paths=source_relative device/v1/device.proto

## stop: stop dev Cadence servers left running (make run's and make test's)
stop:
	@for c in 0 1 2 3; do OTA_DEVSERVER_CLUSTER=$$c scripts/cadence-devserver.sh stop >/dev/null || true; done
	@echo "dev Cadence servers stopped"

clean:
	rm -rf $(BIN) .run
