#!/usr/bin/env bash
# Three worker nodes and one API node on one PostgreSQL. Pass the database URL (an empty database or a
# schema of its own: postgres://user:pass@host/db?schema=garrison_example).
#   examples/three-nodes/run.sh postgres://postgres:secret@127.0.0.1:5432/postgres?schema=garrison_example
# Stop with Ctrl-C: every node drains (SIGTERM) and exits.
set -euo pipefail
url=${1:?usage: run.sh <postgres URL>}
cd "$(dirname "$0")/../.."
garrison() { node --import tsx src/cli/main.ts "$@"; }
garrison migrate --store "$url"
pids=()
for n in 1 2 3; do
  node --import tsx src/cli/main.ts worker --app src/cli/demo/app.ts --store "$url" --name "worker-$n" --agents 2 & pids+=($!)
done
node --import tsx src/cli/main.ts serve --app src/cli/demo/app.ts --store "$url" --name api --port 7070 & pids+=($!)
# Ctrl-C reaches every node of the terminal's group by itself; a TERM to this script is passed on.
trap 'wait' INT
trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait' TERM
sleep 3
echo "dashboard: http://127.0.0.1:7070/   status: npx tsx src/cli/main.ts status --store '$url'"
for i in $(seq 1 20); do
  garrison workflows start demo.order --store "$url" --input "{\"n\":$i,\"amountCents\":$((100 + i)),\"flaky\":false}" >/dev/null
done
echo "started 20 workflows; kill -9 one worker to watch the others take its work over"
wait
