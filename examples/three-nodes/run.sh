#!/usr/bin/env bash
# Three worker nodes and one API node on one PostgreSQL. Pass the database URL (an empty database or a
# schema of its own: postgres://user:pass@host/db?schema=garrison_example).
#   examples/three-nodes/run.sh postgres://postgres:secret@127.0.0.1:5432/postgres?schema=garrison_example
# Stop with Ctrl-C: every node drains (SIGTERM) and exits.
set -euo pipefail
url=${1:?usage: run.sh <postgres URL>}
cd "$(dirname "$0")/../.."
garrison() { npx tsx src/cli/main.ts "$@"; }
garrison migrate --store "$url"
pids=()
for n in 1 2 3; do
  garrison worker --store "$url" --name "worker-$n" --agents 2 & pids+=($!)
done
garrison serve --store "$url" --name api --port 7070 & pids+=($!)
trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait' INT TERM
sleep 3
echo "dashboard: http://127.0.0.1:7070/   status: npx tsx src/cli/main.ts status --store '$url'"
for i in $(seq 1 20); do
  garrison workflows start demo.order --store "$url" --input "{\"n\":$i,\"amountCents\":$((100 + i)),\"flaky\":false}" >/dev/null
done
echo "started 20 workflows; kill -9 one worker to watch the others take its work over"
wait
