#!/usr/bin/env bash
# Run Mamoru locally with two Microsoft 365 Agents Playgrounds (a staff member and a
# manager of the demo office); Ctrl-C stops everything.
#
# Mamoru serves /api/messages on 127.0.0.1:$MAMORU_PORT (3978) in anonymous mode
# (local only: no Azure account, no token) with its data in $MAMORU_DATA_DIR
# (.mamoru). In sandbox mode (the default) it runs the local Graph service with the
# demo office in-process at $MAMORU_GRAPH_SANDBOX_URL (http://127.0.0.1:5280).
# Demo defaults, each unless set in the environment or in .env: the demo office's two
# departments (their managers, staff), the department mailbox is the demo one.
#
# Playgrounds (their web UIs never open a browser themselves: open the printed URLs):
#   staff   田中 花子, scripts/playground/staff.yml,   port $PLAYGROUND_PORT (56150)
#   manager 高橋 課長, scripts/playground/manager.yml, port $MANAGER_PLAYGROUND_PORT (56151)
# Each picks a free port if its own is taken. Logs: Mamoru's on this terminal, the
# Playgrounds' in $MAMORU_DATA_DIR/playground-{staff,manager}.log.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The demo office's fixed ids (graph/sandbox/seed.py: DEMO_DEPARTMENT_MAILBOX,
# DEMO_ABUSER; its managers' group is in scripts/playground/departments.yaml).
DEMO_DEPARTMENT_MAILBOX=shimin-soudan@city.example.jp
DEMO_ABUSER=kujou.claims@example.net
DEMO_MAILBOX=tanaka@city.example.jp

# default VAR VALUE: export VAR=VALUE unless the environment or .env already sets it.
default() {
    if [[ -z ${!1+x} ]] && ! grep -qs "^[[:space:]]*$1=" .env; then
        export "$1=$2"
    fi
}

export MAMORU_ALLOW_ANONYMOUS=true
export MAMORU_DATA_DIR=${MAMORU_DATA_DIR:-.mamoru}
export TEAMSAPPTESTER_BROWSER=${TEAMSAPPTESTER_BROWSER:-none}
# Two departments (scripts/playground/departments.yaml): 高橋 課長 manages 田中 花子's.
# Managers configured the single-department way (MAMORU_MANAGER_IDS/GROUP_ID) win.
if [[ -z ${MAMORU_MANAGER_IDS:-}${MAMORU_MANAGER_GROUP_ID:-} ]] &&
    ! grep -qs "^[[:space:]]*MAMORU_MANAGER_\(IDS\|GROUP_ID\)=" .env; then
    default MAMORU_DEPARTMENTS_FILE scripts/playground/departments.yaml
fi
default MAMORU_DEPARTMENT_MAILBOX "$DEMO_DEPARTMENT_MAILBOX"
default MAMORU_DEPARTMENT_NAME "市民相談課"
default MAMORU_MAIL_REFERENCE_DEPARTMENT SHIMIN
default MAMORU_GRAPH_SANDBOX_URL http://127.0.0.1:5280
BOT_PORT=${MAMORU_PORT:-3978}
STAFF_PORT=${PLAYGROUND_PORT:-56150}
MANAGER_PORT=${MANAGER_PLAYGROUND_PORT:-56151}
PLAYGROUND=$PWD/node_modules/.bin/agentsplayground
CONFIGS=$PWD/scripts/playground
STARTUP_SECONDS=60
CONFIG_GRACE_TICKS=8 # x 0.2 s: a Playground reads its config after "Listening on"

die() { printf 'run: error: %s\n' "$*" >&2; exit 1; }
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

[[ -x .venv/bin/python ]] || die ".venv is missing: run scripts/setup.sh (make run does it)"
[[ -x $PLAYGROUND ]] || die "$PLAYGROUND is missing: run scripts/setup.sh (make run does it)"
if port_in_use "$BOT_PORT"; then
    die "port $BOT_PORT is already in use (another Mamoru?); stop it or set MAMORU_PORT"
fi
sandbox_url=${MAMORU_GRAPH_SANDBOX_URL:-http://127.0.0.1:5280}
sandbox_port=${sandbox_url##*:}
sandbox_port=${sandbox_port%%/*}
if [[ $sandbox_port =~ ^[0-9]+$ ]] && port_in_use "$sandbox_port"; then
    echo "run: note: port $sandbox_port (MAMORU_GRAPH_SANDBOX_URL) is in use; if Mamoru" \
        "starts the local Graph service itself it will say so and stop" >&2
fi
mkdir -p "$MAMORU_DATA_DIR"

pids=()
stop_all() {
    trap - EXIT INT TERM
    # Each child leads its own process group (setsid): end the groups, children included.
    for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
trap stop_all EXIT
trap 'echo; echo "run: stopping"; exit 0' INT TERM

# --- Mamoru (in its own process group, like the Playgrounds: Ctrl-C reaches only this
# script, which then stops them all)
setsid .venv/bin/python -m bot serve --port "$BOT_PORT" &
bot_pid=$!
pids+=("$bot_pid")
for ((i = 0; i < STARTUP_SECONDS * 5; i++)); do
    kill -0 "$bot_pid" 2>/dev/null || die "Mamoru exited during startup (see its log above)"
    if curl -s -o /dev/null "http://127.0.0.1:$BOT_PORT/healthz"; then break; fi
    sleep 0.2
done
curl -s -o /dev/null "http://127.0.0.1:$BOT_PORT/healthz" \
    || die "Mamoru did not answer on port $BOT_PORT within ${STARTUP_SECONDS}s"

# --- Agents Playgrounds
# start_playground NAME CONFIG PORT: starts one in $MAMORU_DATA_DIR/playground-NAME (where
# it writes its devTools/ log folder); sets $playground_url.
start_playground() {
    local name=$1 config=$2 port=$3 dir=$MAMORU_DATA_DIR/playground-$1
    local log=$MAMORU_DATA_DIR/playground-$1.log pid found="" i
    mkdir -p "$dir"
    : >"$log"
    (cd "$dir" && M365_AGENTS_PLAYGROUND_CONFIG_PATH=$config exec setsid "$PLAYGROUND" \
        --app-endpoint "http://127.0.0.1:$BOT_PORT/api/messages" \
        --channel-id msteams --port "$port" --disable-telemetry) >"$log" 2>&1 &
    pid=$!
    pids+=("$pid")
    for ((i = 0; i < STARTUP_SECONDS * 5; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        # "Listening on <port>": it picks another port when the one asked for is taken,
        # so the URL comes from this line. (No probe request: on some kernels the probe's
        # TIME_WAIT keeps the port from the next run.)
        found=$(sed -n 's/.*Listening on \([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
        [[ -n $found ]] && break
        sleep 0.2
    done
    # An invalid configuration file makes it exit right after "Listening on".
    for ((i = 0; i < CONFIG_GRACE_TICKS; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if ! kill -0 "$pid" 2>/dev/null; then
        cat "$log" >&2
        grep -s '^error' "$dir/devTools/m365agentsplayground.log" >&2 || true
        die "the $name Playground exited during startup (its log is above; config: $config)"
    fi
    [[ -n $found ]] || die "the $name Playground did not start within ${STARTUP_SECONDS}s; see $log"
    playground_url="http://localhost:$found"
}
start_playground staff "$CONFIGS/staff.yml" "$STAFF_PORT"
staff_url=$playground_url
start_playground manager "$CONFIGS/manager.yml" "$MANAGER_PORT"
manager_url=$playground_url

cat <<EOF

  Mamoru is running (anonymous, local only) with two Microsoft 365 Agents Playgrounds.
  Mamoru とローカルの Agents Playground が 2 つ起動しました（匿名・ローカル専用）。

    職員 / staff     田中 花子:  $staff_url
    上司 / manager   高橋 課長:  $manager_url
    Graph (sandbox):             $sandbox_url

  デモの流れ（メール大量送信 → 上司が承認 → 証拠フォルダへ保全）:
   1. 上司の画面で「市民相談課 - カスハラ対応（管理職）」チャンネルを開き、
      「@」で Mamoru を選んで「setup」と投稿（このチャンネルが上司チャンネルになります）。
   2. 職員の画面で「毎日同じ人から100通以上メールが来ます」と送り、
      「インシデントを報告」を押して、何があったか・相手（$DEMO_ABUSER）を書いて「報告する」。
   3. 上司のチャンネルに案件のスレッドが届きます。「判断する」→「承認して実行」。
      （Playground はカードの refresh に対応していないため「判断する」で上司用の表示を出します）
      既定で選ばれているのは証拠保全だけで、メールは送られません。回答打ち切りの通知を
      送るときはチェックして承認し、「送信内容を確認」→ プレビュー →「この内容で送信」。
   4. 職員の個人チャットに、実施したこと・残っていること・上司のコメントが届きます。
   5. 上司: チャンネルで「@Mamoru 案件一覧」→ 未完了の作業（担当・期限）つきの一覧、
      「KH-… を開く」で経過・作業・「証拠一式を出力」。職員は「自分の案件」。

  Walkthrough (a mail flood, a manager's approval, the mail kept as evidence):
   1. Manager: open the channel "市民相談課 - カスハラ対応（管理職）", type "@", pick
      Mamoru, then "setup" and Post (the channel becomes the managers' channel).
   2. Staff: send 「毎日同じ人から100通以上メールが来ます」, press 「インシデントを報告」,
      fill in what happened and the counterpart ($DEMO_ABUSER), press 「報告する」.
   3. Manager: the case arrives as a new thread; press 「判断する」 (the Playground does not
      do card refresh), then 「承認して実行」. Only evidence preservation is pre-selected:
      no mail is sent. To send the cut-off notice, check it, approve, then
      「送信内容を確認」 → the preview → 「この内容で送信」 (sent once).
   4. Staff: the personal chat lists what was done, what is still open (and whose),
      and the manager's comment.
   5. Manager: "@Mamoru cases" (案件一覧) lists the open cases with their open tasks;
      "Open KH-…" shows the timeline, tasks and the evidence export. Staff: "my cases".

  Check the mailbox / 結果の確認:
    curl -s $sandbox_url/_sandbox/mailboxes/$DEMO_MAILBOX
    .venv/bin/python -m bot jobs list
    .venv/bin/python -m bot evidence verify KH-YYYY-NNNN

  Also try / ほかに:「Xで実名を出されて悪口を書かれています」 in the staff chat.
  Ctrl-C stops everything. / Ctrl-C ですべて停止します。

EOF

# Run until Ctrl-C or until any process ends.
wait -n "${pids[@]}" || true
kill -0 "$bot_pid" 2>/dev/null || die "Mamoru stopped"
die "an Agents Playground stopped; logs: $MAMORU_DATA_DIR/playground-{staff,manager}.log"
