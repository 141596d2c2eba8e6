# duckdb-go's Arrow interface (RegisterView) is behind this build tag.
export GOFLAGS := -tags=duckdb_arrow
GO ?= go

.PHONY: build test demo lint bench bench-micro fuzz clean

build:
	$(GO) build -o bin/syncd ./cmd/syncd
	$(GO) build -o bin/affise-sim ./cmd/affise-sim

test: build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...
	# Iteration counts (a few seconds each here), not durations: a short
	# -fuzztime duration can end while a worker minimizes a new input, and
	# go test then fails with "context deadline exceeded" on a busy machine.
	$(GO) test -run '^$$' -fuzz '^FuzzDecodePage$$' -fuzztime 10000x ./extract
	$(GO) test -run '^$$' -fuzz '^FuzzScan$$' -fuzztime 30000x ./models
	$(GO) test -run '^$$' -fuzz '^FuzzStatsDailySlices$$' -fuzztime 15000x ./models
	$(GO) test -run '^$$' -fuzz '^FuzzRunReadOnly$$' -fuzztime 1000x ./load/duckdb/sqlguard
	$(GO) test -run '^$$' -fuzz '^FuzzRewrite$$' -fuzztime 5000x ./pgserver

# The long fuzz run; make test runs the same targets for a few seconds.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodePage$$' -fuzztime 5m -fuzzminimizetime 10s ./extract
	$(GO) test -run '^$$' -fuzz '^FuzzScan$$' -fuzztime 2m -fuzzminimizetime 10s ./models
	$(GO) test -run '^$$' -fuzz '^FuzzStatsDailySlices$$' -fuzztime 1m ./models
	$(GO) test -run '^$$' -fuzz '^FuzzRunReadOnly$$' -fuzztime 3m ./load/duckdb/sqlguard
	$(GO) test -run '^$$' -fuzz '^FuzzRewrite$$' -fuzztime 2m ./pgserver

lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

# One table of syncd as a user runs it (bin/syncd against bin/affise-sim),
# each figure the median of interleaved rounds; under 15 minutes on 2 cores.
# Writes bench/results.md. See bench/ and README.md "Performance".
bench: build
	$(GO) run ./bench/cmd/syncd-bench

# The packages' own Go micro-benchmarks.
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin data/demo.duckdb

demo: build
	./scripts/demo.sh
