#!/usr/bin/env bash
# The test command (`npm test`): type-checks, makes sure Kafka and ClickHouse answer (starting the
# project's native services when KAFKA_BROKERS / CLICKHOUSE_URL are not given), then runs every
# suite — unit, integration and fault — with vitest. Extra arguments go to vitest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [ -z "${KAFKA_BROKERS:-}" ] || [ -z "${CLICKHOUSE_URL:-}" ]; then
  bash scripts/services.sh up >/dev/null
  export KAFKA_BROKERS="127.0.0.1:${KAFKA_PORT:-9092}"
  export CLICKHOUSE_URL="http://127.0.0.1:${CLICKHOUSE_HTTP_PORT:-8123}"
fi
echo "[test] KAFKA_BROKERS=$KAFKA_BROKERS CLICKHOUSE_URL=$CLICKHOUSE_URL (node $(node --version))" >&2

tsc -p tsconfig.json --noEmit
tsx scripts/gen-json-schema.ts --check
exec vitest run "$@"
