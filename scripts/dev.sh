#!/usr/bin/env bash
# One entry point for set-up, the demo and the tests.
#   bash scripts/dev.sh setup   install system packages, .venv and the package (idempotent)
#   bash scripts/dev.sh demo    set up, then run OCR on an example image
#   bash scripts/dev.sh test    set up, then run the whole test suite
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
STAMP="$VENV/.setup-stamp"

log() { printf '[setup] %s\n' "$*" >&2; }

apt_packages() { grep -v '^\s*#' requirements/apt.txt | tr -s ' \t' '\n' | grep -v '^$' || true; }

install_apt() {
    local missing=()
    for p in $(apt_packages); do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        log "installing Debian packages: ${missing[*]}"
        local SUDO=""
        [ "$(id -u)" -ne 0 ] && SUDO="sudo"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

install_python() {
    local want
    want="$(cat pyproject.toml requirements/apt.txt scripts/dev.sh | sha256sum | cut -c1-16)"
    if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
        return 0
    fi
    [ -x "$VENV/bin/python" ] || { log "creating .venv"; python3 -m venv "$VENV"; }
    log "installing torch (CPU build) and the package with its extras"
    # torch first, pinned, so the CPU wheel on this machine's disk is used instead of a CUDA build.
    # (pip's notes about local index folders that do not exist on this machine are filtered out)
    "$VENV/bin/pip" install -q "torch==2.13.0" 2> >(grep -v "^WARNING: Location" >&2)
    "$VENV/bin/pip" install -q -e ".[dev]" 2> >(grep -v "^WARNING: Location" >&2)
    echo "$want" > "$STAMP"
}

setup() { install_apt; install_python; }

cmd="${1:-setup}"
shift || true
case "$cmd" in
    setup) setup ;;
    demo)
        setup
        exec "$VENV/bin/hyocr" run examples/line_print.png examples/line_receipt.png examples/receipt.png "$@"
        ;;
    test)
        setup
        exec "$VENV/bin/python" -m pytest "$@"
        ;;
    *) echo "usage: scripts/dev.sh setup|demo|test" >&2; exit 2 ;;
esac
