#!/usr/bin/env bash
# Run Mamoru locally with the Microsoft 365 Agents Playground; Ctrl-C stops both.
#
# Mamoru serves /api/messages on 127.0.0.1:$MAMORU_PORT (3978) in anonymous mode
# (local only: no Azure account, no token) with its data in $MAMORU_DATA_DIR
# (.mamoru). The Playground's web UI listens on $PLAYGROUND_PORT (56150, or a free
# one if taken) and never opens a browser itself: open the printed URL.
# Logs: Mamoru's on this terminal, the Playground's in $MAMORU_DATA_DIR/playground.log.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export MAMORU_ALLOW_ANONYMOUS=true
export MAMORU_DATA_DIR=${MAMORU_DATA_DIR:-.mamoru}
export TEAMSAPPTESTER_BROWSER=${TEAMSAPPTESTER_BROWSER:-none}
BOT_PORT=${MAMORU_PORT:-3978}
PLAYGROUND_PORT=${PLAYGROUND_PORT:-56150}
PLAYGROUND=$PWD/node_modules/.bin/agentsplayground
PLAYGROUND_LOG=$MAMORU_DATA_DIR/playground.log
STARTUP_SECONDS=60

die() { printf 'run: error: %s\n' "$*" >&2; exit 1; }

[[ -x .venv/bin/python ]] || die ".venv is missing: run scripts/setup.sh (make run does it)"
[[ -x $PLAYGROUND ]] || die "$PLAYGROUND is missing: run scripts/setup.sh (make run does it)"
if (exec 3<>"/dev/tcp/127.0.0.1/$BOT_PORT") 2>/dev/null; then
    die "port $BOT_PORT is already in use (another Mamoru?); stop it or set MAMORU_PORT"
fi
mkdir -p "$MAMORU_DATA_DIR"

bot_pid=""
playground_pid=""
stop_all() {
    trap - EXIT INT TERM
    # Each child leads its own process group (setsid): end the groups, children included.
    for pid in $playground_pid $bot_pid; do
        kill -TERM -- "-$pid" 2>/dev/null || true
    done
    for pid in $playground_pid $bot_pid; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
trap stop_all EXIT
trap 'echo; echo "run: stopping"; exit 0' INT TERM

# --- Mamoru (in its own process group, like the Playground: Ctrl-C reaches only this
# script, which then stops both in order)
setsid .venv/bin/python -m bot serve --port "$BOT_PORT" &
bot_pid=$!
for ((i = 0; i < STARTUP_SECONDS * 5; i++)); do
    kill -0 "$bot_pid" 2>/dev/null || die "Mamoru exited during startup (see its log above)"
    if curl -s -o /dev/null "http://127.0.0.1:$BOT_PORT/healthz"; then break; fi
    sleep 0.2
done
curl -s -o /dev/null "http://127.0.0.1:$BOT_PORT/healthz" \
    || die "Mamoru did not answer on port $BOT_PORT within ${STARTUP_SECONDS}s"

# --- Agents Playground
# It runs in $MAMORU_DATA_DIR, where it writes its own devTools/ log folder.
: >"$PLAYGROUND_LOG"
(cd "$MAMORU_DATA_DIR" && exec setsid "$PLAYGROUND" \
    --app-endpoint "http://127.0.0.1:$BOT_PORT/api/messages" \
    --channel-id msteams --port "$PLAYGROUND_PORT" --disable-telemetry) \
    >"$PLAYGROUND_LOG" 2>&1 &
playground_pid=$!
url=""
for ((i = 0; i < STARTUP_SECONDS * 5; i++)); do
    if ! kill -0 "$playground_pid" 2>/dev/null; then
        cat "$PLAYGROUND_LOG" >&2
        die "the Agents Playground exited during startup (its log is above)"
    fi
    # "Listening on <port>" is printed once it listens; it picks another port when
    # the one asked for is taken, so the URL comes from this line. (No probe request
    # here: on some kernels the probe's TIME_WAIT keeps the port from the next run.)
    port=$(sed -n 's/.*Listening on \([0-9][0-9]*\).*/\1/p' "$PLAYGROUND_LOG" | head -n 1)
    if [[ -n $port ]]; then
        url="http://localhost:$port"
        break
    fi
    sleep 0.2
done
[[ -n $url ]] || die "the Agents Playground did not start within ${STARTUP_SECONDS}s; see $PLAYGROUND_LOG"

cat <<EOF

  Mamoru is running (anonymous, local only) with the Microsoft 365 Agents Playground.
  Open: $url
  試してみてください / Try:「Xで実名を出されて悪口を書かれています」(someone named me on X and insults me)
  Ctrl-C stops both.

EOF

# Run until Ctrl-C or until either process ends.
wait -n "$bot_pid" "$playground_pid" || true
kill -0 "$bot_pid" 2>/dev/null || die "Mamoru stopped"
die "the Agents Playground stopped; its log: $PLAYGROUND_LOG"
