#!/usr/bin/env bash
# Starts WORKER_COUNT buildbot-worker processes (0: one per CPU core) named
# "$WORKER_NAME-000", "$WORKER_NAME-001", ..., as the master's workersFile expects, each in
# "$BUILDBOT_DIR-NNN", connected to MASTER_URL over msgpack. When one exits, all are stopped and
# the script exits non-zero, so that systemd restarts the set.
#
# MASTER_URL: "tcp:host=HOST:port=PORT" (buildbot-nix's form) or "HOST:PORT".
set -euo pipefail

: "${MASTER_URL:?set MASTER_URL, e.g. tcp:host=localhost:port=9989}"
: "${WORKER_PASSWORD_FILE:?set WORKER_PASSWORD_FILE}"
: "${BUILDBOT_DIR:?set BUILDBOT_DIR}"
name="${WORKER_NAME:-$(hostname)}"
count="${WORKER_COUNT:-0}"
worker_cmd="${BUILDBOT_WORKER:-buildbot-worker}"

if [[ "$MASTER_URL" =~ ^tcp:(.*)$ ]]; then
  host=localhost port=9989
  IFS=':' read -ra parts <<<"${BASH_REMATCH[1]}"
  for part in "${parts[@]}"; do
    case "$part" in
      host=*) host="${part#host=}" ;;
      port=*) port="${part#port=}" ;;
    esac
  done
  master="$host:$port"
elif [[ "$MASTER_URL" =~ ^[^:]+:[0-9]+$ ]]; then
  master="$MASTER_URL"
else
  echo "MASTER_URL '$MASTER_URL' is neither tcp:host=HOST:port=PORT nor HOST:PORT" >&2
  exit 2
fi

if ! [[ "$count" =~ ^[0-9]+$ ]]; then
  echo "WORKER_COUNT '$count' is not a number" >&2
  exit 2
fi
if [ "$count" -eq 0 ]; then count="$(nproc)"; fi
password="$(<"$WORKER_PASSWORD_FILE")"
password="${password%$'\n'}"

pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
}
trap 'stop_all; exit 0' TERM INT

for ((i = 0; i < count; i++)); do
  id="$(printf '%03d' "$i")"
  dir="$BUILDBOT_DIR-$id"
  mkdir -p "$dir"
  rm -f "$dir/buildbot.tac"
  "$worker_cmd" create-worker --quiet --protocol=msgpack_experimental_v7 "$dir" "$master" "$name-$id" "$password" >/dev/null
  "$worker_cmd" start --nodaemon "$dir" &
  pids+=("$!")
  echo "started worker $name-$id in $dir, connecting to $master"
done

set +e
wait -n
status=$?
echo "a worker exited (status $status); stopping the others" >&2
stop_all
exit 1
