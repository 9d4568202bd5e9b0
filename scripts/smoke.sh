#!/usr/bin/env bash
# Starts a local server on a fresh database and runs the contract smoke test against it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH" WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
port="${SMOKE_PORT:-8787}"
state="$(mktemp -d)"
log="$state/server.log"
npm run dev -- --port "$port" --persist-to "$state" >"$log" 2>&1 &
pid=$!
cleanup() { kill -- -"$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; pkill -f "wrangler.*--persist-to $state" 2>/dev/null || true; rm -rf "$state"; }
trap cleanup EXIT
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$port/api/vtt/health" >/dev/null 2>&1; then break; fi
  sleep 1
done
smoke="${SMOKE_SCRIPT:-../shared/contract-smoke.mjs}"
if ! node "$smoke" "http://127.0.0.1:$port"; then
  echo "--- server log ---"; tail -50 "$log"; exit 1
fi
