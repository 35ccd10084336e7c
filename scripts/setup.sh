#!/usr/bin/env bash
# Prepare this checkout for running and testing Mamoru. Safe to run again: each step
# only does something when its inputs changed since the last run.
#
#   scripts/setup.sh            .venv from requirements.lock + node_modules from package-lock.json
#   scripts/setup.sh --browser  the same, plus Debian's Chromium for the end-to-end tests (root)
#   scripts/setup.sh --tools    only a .venv with pip-tools (enough for `make lock`)
#
# Never downloads a browser or a prebuilt binary of its own: PyPI, npm and Debian only.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
VENV=$ROOT/.venv
PYTHON=${PYTHON:-python3}
CHROMIUM=/usr/bin/chromium

# Playwright (python) must use Debian's Chromium; it must never fetch its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

want_browser=0
tools_only=0
for arg in "$@"; do
    case $arg in
        --browser) want_browser=1 ;;
        --tools) tools_only=1 ;;
        -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "setup: unknown option: $arg" >&2; exit 2 ;;
    esac
done

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# Run a command with its output kept aside; show it only if the command fails.
quietly() {
    local out
    out=$(mktemp)
    if ! "$@" >"$out" 2>&1; then
        cat "$out" >&2
        rm -f "$out"
        die "failed: $*"
    fi
    rm -f "$out"
}

# A stamp file holds the hash of the inputs a step was last run with.
fingerprint() { cat "$@" | sha256sum | cut -d' ' -f1; }
is_fresh() { [[ -f $1 && "$(cat "$1")" == "$2" ]]; }

# --- Python >= 3.12 (.python-version selects 3.12 under pyenv)
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    die "$PYTHON not found; Mamoru needs Python >= 3.12 (set PYTHON=/path/to/python3.12)"
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then
    die "Mamoru needs Python >= 3.12, but $PYTHON is $("$PYTHON" -V 2>&1)" \
        "(install 3.12 or set PYTHON=/path/to/python3.12)"
fi

# --- .venv (recreated when it is missing, broken or on an older Python)
if [[ -x $VENV/bin/python ]] \
    && ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
    say "recreating .venv: its Python is broken or older than 3.12"
    rm -rf "$VENV"
fi
if [[ ! -x $VENV/bin/python ]]; then
    say "creating .venv with $("$PYTHON" -V 2>&1)"
    "$PYTHON" -m venv "$VENV"
fi

if ((tools_only)); then
    if [[ ! -x $VENV/bin/pip-compile ]]; then
        say "installing pip-tools into .venv"
        "$VENV/bin/python" -m pip install --quiet pip-tools
    fi
    exit 0
fi

# --- Python packages, exactly as locked, then Mamoru itself (editable)
[[ -f requirements.lock ]] || die "requirements.lock is missing: run 'make lock'"
stamp=$VENV/.mamoru-installed
inputs=$(fingerprint requirements.lock pyproject.toml)
if ! is_fresh "$stamp" "$inputs"; then
    say "installing Python packages from requirements.lock"
    # The locked pip first (hash-checked, alone): the pip that comes with Python 3.12.1
    # (23.2) refuses a locked dependency requested with extras (kiota's httpx[http2])
    # as soon as PyPI has a newer release of it than the lock's.
    awk '/^pip==/ {p = 1} p {print} p && !/\\$/ {exit}' requirements.lock >"$VENV/pip.lock"
    quietly "$VENV/bin/python" -m pip install --require-hashes --no-deps -r "$VENV/pip.lock"
    quietly "$VENV/bin/python" -m pip install --require-hashes -r requirements.lock
    # setuptools comes from the lock too, so the build needs no unpinned download.
    quietly "$VENV/bin/python" -m pip install --no-deps --no-build-isolation -e .
    # A dependency added to pyproject.toml but not yet locked shows up here.
    if ! problems=$("$VENV/bin/python" -m pip check 2>&1); then
        printf '%s\n' "$problems" >&2
        die "the installed packages do not satisfy pyproject.toml:" \
            "requirements.lock is out of date; run 'make lock'"
    fi
    echo "$inputs" >"$stamp"
fi

# --- checkov for tests/deploy, in its own venv (its pins conflict with pytest's)
quietly deploy/scripts/install-checkov.sh

# --- Node packages (the Agents Playground), exactly as locked
command -v npm >/dev/null 2>&1 || die "npm not found; install Node.js >= 20 with npm"
stamp=node_modules/.mamoru-installed
inputs=$(fingerprint package.json package-lock.json)
if ! is_fresh "$stamp" "$inputs"; then
    say "installing Node packages with npm ci"
    quietly npm ci --ignore-scripts --no-audit --no-fund
    echo "$inputs" >"$stamp"
fi

# --- Debian's Chromium, only for the end-to-end tests (plus a Japanese font, so that
# screenshots of failed tests are readable; the tests themselves read the DOM)
JA_FONT=fonts-ipafont-gothic
if ((want_browser)); then
    packages=()
    [[ -x $CHROMIUM ]] || packages+=(chromium)
    dpkg -s "$JA_FONT" >/dev/null 2>&1 || packages+=("$JA_FONT")
    if ((${#packages[@]})) && [[ $(id -u) -ne 0 ]]; then
        if [[ ! -x $CHROMIUM ]]; then
            die "the end-to-end tests need Debian's Chromium at $CHROMIUM; as root run:" \
                "apt-get update && apt-get install -y chromium $JA_FONT"
        fi
        say "note: $JA_FONT is not installed; Japanese text in e2e screenshots shows as boxes"
        packages=()
    fi
    if ((${#packages[@]})); then
        say "installing Debian packages: ${packages[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${packages[@]}" >/dev/null
        [[ -x $CHROMIUM ]] || die "apt-get installed chromium but $CHROMIUM is missing"
    fi
fi

say "ready"
