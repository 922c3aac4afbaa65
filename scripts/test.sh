#!/usr/bin/env bash
# The test command (`npm test`): type-checks, makes sure Kafka and ClickHouse answer (starting the
# project's native services when KAFKA_BROKERS / CLICKHOUSE_URL are not given), then runs every
# suite — unit, integration and fault — with vitest. Extra arguments go to vitest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# the project's own tools (and the Node 24 of the `node` devDependency) first, also outside npm
export PATH="$ROOT/node_modules/.bin:$PATH"

if [ -z "${KAFKA_BROKERS:-}" ] || [ -z "${CLICKHOUSE_URL:-}" ]; then
  bash scripts/services.sh up >/dev/null
  export KAFKA_BROKERS="127.0.0.1:${KAFKA_PORT:-9092}"
  export CLICKHOUSE_URL="http://127.0.0.1:${CLICKHOUSE_HTTP_PORT:-8123}"
fi
echo "[test] KAFKA_BROKERS=$KAFKA_BROKERS CLICKHOUSE_URL=$CLICKHOUSE_URL (node $(node --version))" >&2

tsc -p tsconfig.json --noEmit
# the children the suites start (bin/tokenwatch.js) run the compiled build, as in production
tsc -p tsconfig.build.json
tsx scripts/gen-json-schema.ts --check
results="$(mktemp -t tokenwatch-vitest.XXXXXX.json)"
rc=0
vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@" || rc=$?
# one plain closing line for CI logs: "tests: N passed, N failed[, N skipped]"
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$results" 2>/dev/null || true
rm -f "$results"
exit $rc
