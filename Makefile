# hourglass — make targets. `make demo` and `make test` are all a newcomer needs.
GO      ?= go
BIN     := bin/hourglass
PKGS    := ./...
# Fuzzing budgets are execution counts: Go 1.26's coordinator can fail a
# duration-bounded run with a bare "context deadline exceeded" at its end
# (golang/go#75804, fixed in 1.27). FUZZTIME=30s overrides every target.
FUZZTIME ?=

LSST_ALERT_PACKET := 30.2026.2700
LSST_SCHEMAS := .cache/lsst-alert-packet/lsst/alert/packet/schema/11/1

.PHONY: all build demo test test-kafka test-browser unit integration fuzz bench bench-kafka lint cross release units image test-image clean lsst-schemas interop-client vendor-uplot

# The release, stamped into the binary (hourglass version); the commit and
# dirty flag come from the build info (-buildvcs).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
RELEASE_PLATFORMS := linux/amd64 linux/arm64
CROSS_PLATFORMS   := darwin/amd64 darwin/arm64 windows/amd64

all: build

build:
	$(GO) build -buildvcs=auto -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/hourglass

## release: static binaries (CGO_ENABLED=0, -trimpath) in bin/release/ for $(RELEASE_PLATFORMS)
release:
	@for p in $(RELEASE_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; out=bin/release/hourglass-$(VERSION)-$$os-$$arch; \
		echo "$$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -buildvcs=auto \
			-ldflags "-s -w -X main.version=$(VERSION)" -o $$out ./cmd/hourglass || exit 1; \
	done

## units: the systemd units of deploy/systemd pass systemd-analyze verify
units: build
	scripts/verify-units.sh $(BIN)

## image: the OCI image of deploy/Containerfile from the linux/amd64 release binary,
## with the first of buildah, podman or docker found
image: release
	@tool=$$(command -v buildah || command -v podman || command -v docker) || { echo "image: needs buildah, podman or docker"; exit 1; }; \
	echo "$$tool build -t hourglass:$(VERSION)"; \
	$$tool build -f deploy/Containerfile --build-arg VERSION=$(VERSION) --build-arg ARCH=amd64 -t hourglass:$(VERSION) .

## test-image: builds the image with buildah and runs the binary inside it (scripts/image-test.sh)
test-image: release
	scripts/image-test.sh $(VERSION)

## cross: every package compiles for $(CROSS_PLATFORMS) too (run by make test)
cross:
	@for p in $(CROSS_PLATFORMS); do \
		echo "go build ./... for $$p"; \
		CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build ./... || exit 1; \
	done

## demo: the classic hourly Open/Close counts on the embedded broker
demo: build
	./$(BIN) demo

## test: vet, unit and integration tests (embedded broker), brief fuzzing
test: lsst-schemas interop-client lint cross units unit integration fuzz

## test-kafka: the integration suite against real Apache Kafka (KRaft, fetched from Maven
## Central), then the replication tests against a 3-node cluster
test-kafka: lsst-schemas interop-client
	scripts/kafka-test.sh -- $(GO) test -count=1 -timeout 20m ./integration/...
	scripts/kafka-test.sh --nodes 3 -- $(GO) test -count=1 -timeout 15m \
		-run 'TestRollingRestart|TestAggregateExact|TestSecureCluster|TestRealClientInterop' ./integration/...

## test-browser: headless Chromium (driven by chromedp) loads `hourglass serve`'s page at
## 20 windows x 2 keys and 1,000 windows x 30 keys, checks what it drew and how long a
## redraw takes; both screenshots land in .cache/artifacts (Chromium is required, not skipped)
test-browser:
	HOURGLASS_REQUIRE_BROWSER=1 HOURGLASS_ARTIFACTS=$(CURDIR)/.cache/artifacts \
		$(GO) test -count=1 -timeout 5m -run '^TestServePage$$' -v ./integration/

## vendor-uplot: the page's chart library, uPlot (MIT), from npm into serve/static/uplot,
## checked against the registry's integrity hash; committed, so builds work offline
UPLOT := 1.6.32
UPLOT_INTEGRITY := sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==
vendor-uplot:
	rm -rf .cache/uplot && mkdir -p .cache/uplot
	curl -fsSL -o .cache/uplot/uplot.tgz https://registry.npmjs.org/uplot/-/uplot-$(UPLOT).tgz
	test "sha512-$$(openssl dgst -sha512 -binary .cache/uplot/uplot.tgz | base64 -w0)" = "$(UPLOT_INTEGRITY)"
	tar -xzf .cache/uplot/uplot.tgz -C .cache/uplot
	cp .cache/uplot/package/dist/uPlot.iife.min.js .cache/uplot/package/dist/uPlot.min.css .cache/uplot/package/LICENSE serve/static/uplot/

## lsst-schemas: Rubin's alert schemas (PyPI lsst-alert-packet, GPLv3: fetched, not committed)
lsst-schemas: $(LSST_SCHEMAS)/lsst.v11_1.alert.avsc

$(LSST_SCHEMAS)/lsst.v11_1.alert.avsc:
	mkdir -p .cache
	cd .cache && python3 -m pip download --quiet --no-deps -d . lsst-alert-packet==$(LSST_ALERT_PACKET)
	cd .cache && python3 -m zipfile -e lsst_alert_packet-$(LSST_ALERT_PACKET)-py3-none-any.whl lsst-alert-packet
	test -f $@

## interop-client: confluent-kafka (librdkafka) from PyPI in .cache/interop, a Kafka
## client nobody here wrote, for the interop test; never used by the product
CONFLUENT_KAFKA := 2.16.1
interop-client: .cache/interop/.confluent-kafka-$(CONFLUENT_KAFKA)

.cache/interop/.confluent-kafka-$(CONFLUENT_KAFKA):
	rm -rf .cache/interop
	python3 -m venv .cache/interop
	.cache/interop/bin/python -m pip install --quiet --disable-pip-version-check confluent-kafka==$(CONFLUENT_KAFKA)
	touch $@

unit:
	$(GO) test -count=1 -race ./agg/... ./internal/... ./table/... ./windows/... ./codec/... ./kafka/... ./report/... ./demo/... ./broker/... ./predicate/... ./alerts/... ./sqlquery/... ./serve/... ./metrics/... ./cmd/...

integration:
	$(GO) test -count=1 -timeout 15m ./integration/... ./processor/... ./ingest/... ./tail/... ./cmd/...

## fuzz: each decoder's fuzz target, a fixed number of executions each
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeJSON$$' -fuzztime $(or $(FUZZTIME),100000x) ./codec
	$(GO) test -run '^$$' -fuzz '^FuzzScannerMatchesTokens$$' -fuzztime $(or $(FUZZTIME),200000x) ./codec
	$(GO) test -run '^$$' -fuzz '^FuzzExtractMatchesDecode$$' -fuzztime $(or $(FUZZTIME),200000x) ./codec
	$(GO) test -run '^$$' -fuzz '^FuzzDecodePyLiteral$$' -fuzztime $(or $(FUZZTIME),100000x) ./codec
	$(GO) test -run '^$$' -fuzz '^FuzzPyExtractMatchesDecode$$' -fuzztime $(or $(FUZZTIME),200000x) ./codec
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeAvro$$' -fuzztime $(or $(FUZZTIME),100000x) ./codec
	$(GO) test -run '^$$' -fuzz '^FuzzAvroExtractMatchesDecode$$' -fuzztime $(or $(FUZZTIME),200000x) ./codec
	$(GO) test -run '^$$' -fuzz '^FuzzParseTime$$' -fuzztime $(or $(FUZZTIME),300000x) ./windows
	$(GO) test -run '^$$' -fuzz '^FuzzUpdateCodec$$' -fuzztime $(or $(FUZZTIME),100000x) ./internal/wire
	$(GO) test -run '^$$' -fuzz '^FuzzRowBinary$$' -fuzztime $(or $(FUZZTIME),100000x) ./windows
	$(GO) test -run '^$$' -fuzz '^FuzzSessionsBinary$$' -fuzztime $(or $(FUZZTIME),50000x) ./windows
	$(GO) test -run '^$$' -fuzz '^FuzzWatermarkRow$$' -fuzztime $(or $(FUZZTIME),50000x) ./internal/wire

## bench: micro-benchmarks, then the suite W1–W5 (bench/main.go) on the embedded broker;
## the suite's table and JSON land in .cache/bench (figures, never pass/fail)
bench: build
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./codec/... ./windows/...
	$(GO) run ./bench -bin $(BIN) -out .cache/bench $(BENCHFLAGS)

## bench-kafka: the suite against a single-node Apache Kafka (scripts/kafka-test.sh)
bench-kafka: build
	scripts/kafka-test.sh -- sh -c '$(GO) run ./bench -bin $(BIN) -brokers "$$HOURGLASS_TEST_BROKERS" -out .cache/bench-kafka $(BENCHFLAGS)'

## lint: gofmt and go vet always; golangci-lint when installed
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@if command -v golangci-lint >/dev/null 2>&1; then golangci-lint run; else echo "golangci-lint not installed; skipped"; fi

clean:
	rm -rf bin .cache
