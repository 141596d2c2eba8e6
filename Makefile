# duckdb-go's Arrow interface (RegisterView) is behind this build tag.
export GOFLAGS := -tags=duckdb_arrow
GO ?= go

.PHONY: build test demo lint bench fuzz clean

build:
	$(GO) build -o bin/syncd ./cmd/syncd
	$(GO) build -o bin/affise-sim ./cmd/affise-sim

test: build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin data/demo.duckdb

demo: build
	./scripts/demo.sh
