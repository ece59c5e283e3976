#!/usr/bin/env bash
# make demo: the Node app (examples/node-app) and the Go chat server
# (examples/chat-server) sharing one login. STORE=file (default, nothing to
# install) | redis | postgres | mongo | memcached. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

STORE="${STORE:-file}"
NODE_PORT="${NODE_PORT:-3000}"
GO_PORT="${GO_PORT:-3001}"
SECRET="${SECRET:-sessionbridge demo secret}"
STATE="${DEMO_STATE:-$PWD/.demo}"
mkdir -p "$STATE"

case "$STORE" in
  file)      SESSION_DIR="$STATE/sessions"; mkdir -p "$SESSION_DIR"; STORE_URL="file://$SESSION_DIR" ;;
  redis)     bash scripts/services.sh redis >/dev/null; STORE_URL="redis://127.0.0.1:6379?prefix=demo:sess:" ;;
  postgres)  bash scripts/services.sh postgres >/dev/null; STORE_URL="postgres://postgres@127.0.0.1:5432/postgres?table=demo_session&sslmode=disable" ;;
  mongo)     bash scripts/services.sh mongo >/dev/null; STORE_URL="mongodb://127.0.0.1:27017/sessionbridge_demo?collection=sessions" ;;
  memcached) bash scripts/services.sh memcached >/dev/null; STORE_URL="memcached://127.0.0.1:11211?prefix=demo:" ;;
  *) echo "unknown STORE=$STORE (file, redis, postgres, mongo, memcached)" >&2; exit 1 ;;
esac

if [ ! -f examples/node-app/node_modules/.package-lock.json ] || [ examples/node-app/package-lock.json -nt examples/node-app/node_modules/.package-lock.json ]; then
  echo "installing the Node app's packages (npm ci)…"
  (cd examples/node-app && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "building the Go chat server…"
# examples/ is a module of its own (it uses this checkout's library).
go -C examples build -o "$STATE/chat-server" ./chat-server

pids=()
stop() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "demo stopped"
}
trap stop INT TERM EXIT

"$STATE/chat-server" -listen "127.0.0.1:$GO_PORT" -store "$STORE_URL" -secret "$SECRET" -origin "http://localhost:$NODE_PORT" &
pids+=($!)
(cd examples/node-app && PORT="$NODE_PORT" SECRET="$SECRET" STORE="$STORE" SESSION_DIR="${SESSION_DIR:-}" \
  CHAT_URL="http://localhost:$GO_PORT" exec node app.js) &
pids+=($!)

for _ in $(seq 1 50); do
  if curl -fsS "http://127.0.0.1:$NODE_PORT/login" >/dev/null 2>&1 && curl -fsS "http://127.0.0.1:$GO_PORT/healthz" >/dev/null 2>&1; then
    break
  fi
  sleep 0.2
done
echo
echo "  sessionbridge demo ($STORE store) is running:"
echo "    open http://localhost:$NODE_PORT   (users alice/alice and bob/bob)"
echo "    Go chat + /api/me on http://localhost:$GO_PORT"
echo "  Ctrl-C stops both."
echo
wait -n "${pids[@]}"
