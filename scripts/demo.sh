#!/usr/bin/env bash
# make demo: start the Affise simulator, sync it into ./data/demo.duckdb, print reports.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEMO_SIM_PORT="${DEMO_SIM_PORT:-18089}"
export AFFISE_API_KEY="demo-key-$$-${RANDOM}"
mkdir -p data
rm -f data/demo.duckdb data/demo.duckdb.wal
sim=""
trap '[ -z "$sim" ] || kill $sim 2>/dev/null || true' EXIT
# Start the simulator; if the port is taken, try the next ones.
for _ in $(seq 1 20); do
  if (exec 3<>"/dev/tcp/127.0.0.1/${DEMO_SIM_PORT}") 2>/dev/null; then
    DEMO_SIM_PORT=$((DEMO_SIM_PORT + 1)); continue
  fi
  AFFISE_SIM_KEY="$AFFISE_API_KEY" bin/affise-sim --addr "127.0.0.1:${DEMO_SIM_PORT}" \
    --seed 1 --conversions 20000 --days 30 --timezone Europe/Moscow 2>data/demo-sim.log &
  sim=$!
  up=""
  for _ in $(seq 1 100); do
    kill -0 "$sim" 2>/dev/null || break
    if (exec 3<>"/dev/tcp/127.0.0.1/${DEMO_SIM_PORT}") 2>/dev/null; then up=1; break; fi
    sleep 0.1
  done
  [ -n "$up" ] && break
  kill "$sim" 2>/dev/null || true
  DEMO_SIM_PORT=$((DEMO_SIM_PORT + 1))
done
[ -n "$up" ] || { echo "demo: could not start affise-sim (see data/demo-sim.log)" >&2; exit 1; }
echo "== syncd sync (simulator on 127.0.0.1:${DEMO_SIM_PORT})"
bin/syncd sync -c demo/syncd.yaml --log-level warn
echo
echo "== rows per table"
bin/syncd query -c demo/syncd.yaml "
  SELECT 'conversions' AS table_name, count(*) AS rows FROM conversions UNION ALL
  SELECT 'clicks', count(*) FROM clicks UNION ALL
  SELECT 'server_postbacks', count(*) FROM server_postbacks UNION ALL
  SELECT 'affiliate_postbacks', count(*) FROM affiliate_postbacks UNION ALL
  SELECT 'stats_daily', count(*) FROM stats_daily UNION ALL
  SELECT 'offers', count(*) FROM offers UNION ALL
  SELECT 'partners', count(*) FROM partners UNION ALL
  SELECT 'advertisers', count(*) FROM advertisers"
echo
echo "== last 10 days: revenue, payouts, profit (sql/reports/daily_summary.sql)"
bin/syncd query -c demo/syncd.yaml --file sql/reports/daily_summary.sql | sed -n '1,12p'
echo
echo "== top offers per currency (sql/reports/top_offers.sql)"
bin/syncd query -c demo/syncd.yaml --file sql/reports/top_offers.sql | sed -n '1,12p'
echo
echo "The warehouse is ./data/demo.duckdb: try  bin/syncd query -c demo/syncd.yaml \"SELECT * FROM daily_revenue LIMIT 10\""
echo
echo "== syncd verify: the last 14 days, per day and currency, against Affise's own custom stats"
bin/syncd verify -c demo/syncd.yaml --days 14 --log-level warn
