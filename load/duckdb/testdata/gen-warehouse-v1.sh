#!/usr/bin/env bash
# Regenerates warehouse-v1.duckdb.gz: a warehouse written by the release before
# schema migrations existed (schema version 1). Only needed if the fixture is
# lost; a regenerated file is a different file (other _synced_at, runs), so
# the tests only rely on what README.md promises about it.
#
# usage: gen-warehouse-v1.sh SYNCD AFFISE_SIM OUT.duckdb.gz
#   SYNCD and AFFISE_SIM built from commit 42c5326 (see README.md).
set -euo pipefail
syncd=$1 sim=$2 out=$3
work=$(mktemp -d)
trap 'kill "${simpid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

# The same simulator arguments as e2e/migrate_test.go: one fixed anchor, so
# a later run serves exactly the data the fixture holds.
key=fixture-key
addr=127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$sim" --addr "$addr" --key "$key" --seed 1 --conversions 300 --days 5 \
	--anchor 2026-12-01T21:00:00Z >"$work/sim.log" 2>&1 &
simpid=$!
for _ in $(seq 100); do curl -fs "http://$addr/_sim/info" >/dev/null && break; sleep 0.1; done
kill -0 "$simpid" # it, not some other process, is listening

# The e2e harness's config (e2e/harness_test.go newEnv): every stream on
# its defaults, stats_daily slices day, offer, partner, country.
cat >"$work/syncd.yaml" <<YAML
api:
  base_url: http://$addr
  key: \${FIXTURE_KEY}
  timezone: Europe/Berlin
  requests_per_second: 200
  concurrency: 4
  timeout: 5s
warehouse:
  path: $work/wh/affise.duckdb
YAML
FIXTURE_KEY=$key "$syncd" sync -c "$work/syncd.yaml"
FIXTURE_KEY=$key "$syncd" query --write -c "$work/syncd.yaml" "CHECKPOINT"
test ! -e "$work/wh/affise.duckdb.wal"
ls -la "$work/wh"
# Gzipped: DuckDB gives each table its own 256 KiB blocks, mostly zeros at
# this size (6 MiB raw, under 400 KiB gzipped). -n: no name or time inside.
gzip -9 -n -c "$work/wh/affise.duckdb" >"$out"
ls -la "$out"
