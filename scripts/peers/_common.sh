# Shared helpers for the scripts in scripts/peers/ (sourced, not run).
#
# PEERS   the folder every test peer installs into:
#         ${COPHUB_PEERS_DIR:-<repo>/target/peers}
# HERE    scripts/peers/ itself
#
# Everything a helper prints goes to stderr, so the scripts' stdout carries
# only their one-line results (LISTENING <port>, READY <url>, paths).

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PEERS="${COPHUB_PEERS_DIR:-$REPO/target/peers}"
PYTHON="${PYTHON:-python3}"

log() { echo "[$(basename "$0")] $*" >&2; }
die() { log "error: $*"; exit 1; }

# ensure_venv NAME MARKER_TEXT PIP_ARGS...
# Creates $PEERS/NAME as a Python venv and pip-installs PIP_ARGS into it,
# unless $PEERS/NAME/.installed already holds MARKER_TEXT (so a changed pin
# reinstalls). A lock keeps two concurrent callers from installing at once.
ensure_venv() {
    local name="$1" marker="$2"; shift 2
    local venv="$PEERS/$name"
    if [[ -f "$venv/.installed" && "$(cat "$venv/.installed")" == "$marker" ]]; then
        return 0
    fi
    mkdir -p "$PEERS"
    (
        flock 9
        if [[ -f "$venv/.installed" && "$(cat "$venv/.installed")" == "$marker" ]]; then
            exit 0
        fi
        log "installing the $name venv in $venv"
        rm -rf "$venv"
        if ! "$PYTHON" -m venv "$venv" >&2 2>/dev/null; then
            # Debian's python3 needs python3-venv for ensurepip.
            rm -rf "$venv"
            apt_install python3-venv
            "$PYTHON" -m venv "$venv" >&2
        fi
        "$venv/bin/pip" install --disable-pip-version-check -q "$@" >&2
        printf '%s' "$marker" > "$venv/.installed"
    ) 9>"$PEERS/.$name.lock"
}

APT_UPDATED=0
# apt_install PKG...: installs Debian packages that are not installed yet.
apt_install() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    if [[ "$APT_UPDATED" == 0 ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}
