#!/usr/bin/env bash
# Idempotent set-up of the pinned stack in a virtual environment.
#
#   bash tools/install.sh            # creates/updates $MASKCLIP_VENV (default: ./.venv)
#
# - every package comes at the exact version of requirements/lock.txt (the whole environment,
#   written by tools/lock_requirements.sh from requirements/constraints.txt), so a release made
#   after the lock cannot change what is installed; MASKCLIP_UNLOCKED=1 resolves from the
#   constraints instead (what the lock script does);
# - mmcv 2.1.0 is compiled with its ops once (~6 min on 2 cores) and the wheel is cached in
#   $MASKCLIP_WHEEL_CACHE (default ~/.cache/maskclip/wheels/<torch>-<python>-<cpu|cuda>-ops/);
#   our models use no mmcv CUDA op, so CUDA is hidden during the build (CUDA_VISIBLE_DEVICES=,
#   FORCE_CUDA=0): the CPU ops compile on any machine, with a GPU and no CUDA toolkit too.
#   MASKCLIP_MMCV_CUDA_OPS=1 builds mmcv's CUDA ops instead; that needs the CUDA toolkit (nvcc)
#   of torch's CUDA version. `bash tools/install.sh --print-mmcv-build` shows the plan only;
# - a stamp of the requirement files makes a repeated run return in about a second.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${MASKCLIP_VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}
CONSTRAINTS=$ROOT/requirements/constraints.txt
LOCK=$ROOT/requirements/lock.txt
export PIP_DISABLE_PIP_VERSION_CHECK=1

log() { printf '[install] %s\n' "$*" >&2; }

# The mmcv build: its environment and the wheel-cache folder, keyed on the CPU / CUDA choice.
mmcv_build_plan() {  # $1: torch-python tag; prints "cache=DIR" and the build's env assignments
  local ops=cpu env="MMCV_WITH_OPS=1 CUDA_VISIBLE_DEVICES= FORCE_CUDA=0"
  if [ "${MASKCLIP_MMCV_CUDA_OPS:-0}" = 1 ]; then
    ops=cuda env="MMCV_WITH_OPS=1 FORCE_CUDA=1"
  fi
  echo "cache=${MASKCLIP_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/maskclip/wheels}/$1-$ops-ops"
  echo "env=$env"
}
torch_tag() {
  "$1" -c "import sys, torch; print(f'torch{torch.__version__}-cp{sys.version_info[0]}{sys.version_info[1]}')"
}
if [ "${1:-}" = --print-mmcv-build ]; then
  mmcv_build_plan "$(torch_tag "${VENV}/bin/python")"
  exit 0
fi

stamp_of() {
  cat "$ROOT/requirements/"*.txt "$ROOT/setup.py" "$ROOT/tools/install.sh" | sha256sum | cut -c1-16
}
STAMP_FILE=$VENV/.maskclip-install-stamp
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP_FILE" ] && [ "$(cat "$STAMP_FILE")" = "$(stamp_of)" ]; then
  log "environment $VENV is up to date"
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtual environment $VENV with $($PYTHON --version 2>&1)"
  "$PYTHON" -m venv "$VENV"
fi
PY=$VENV/bin/python
pip_install() { "$PY" -m pip install -q -c "$CONSTRAINTS" "$@"; }

if [ "${MASKCLIP_UNLOCKED:-0}" = 1 ]; then
  log "installing build tools and the stack resolved from $CONSTRAINTS (unlocked)"
  pip_install "setuptools>=77.0.3,<81" wheel
  pip_install -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt"
else
  log "installing the locked stack: $(grep -c '==' "$LOCK") packages of $LOCK"
  # every dependency is in the lock, so nothing is resolved against the registry's newest
  grep -v -E '^mmcv==' "$LOCK" > "$VENV/.maskclip-lock-no-mmcv.txt"
  "$PY" -m pip install -q --no-deps -r "$VENV/.maskclip-lock-no-mmcv.txt"
fi

if "$PY" -c "import mmcv, mmcv.ops, sys; sys.exit(mmcv.__version__ != '2.1.0')" 2>/dev/null; then
  log "mmcv 2.1.0 with ops already installed"
else
  PLAN=$(mmcv_build_plan "$(torch_tag "$PY")")
  WHEELS=$(echo "$PLAN" | sed -n 's/^cache=//p')
  BUILD_ENV=$(echo "$PLAN" | sed -n 's/^env=//p')
  mkdir -p "$WHEELS"
  WHEEL=$(ls "$WHEELS"/mmcv-2.1.0-*.whl 2>/dev/null | head -n 1 || true)
  if [ -z "$WHEEL" ]; then
    if [ "${MASKCLIP_MMCV_CUDA_OPS:-0}" = 1 ] && ! command -v nvcc >/dev/null; then
      log "MASKCLIP_MMCV_CUDA_OPS=1 needs the CUDA toolkit (nvcc) of torch's CUDA version on PATH;"
      log "unset it to build the CPU ops, which is all our models use"
      exit 1
    fi
    log "building mmcv 2.1.0 ($BUILD_ENV) (about 6 minutes on 2 cores; cached afterwards in $WHEELS)"
    env $BUILD_ENV CFLAGS=-g0 MAX_JOBS=${MAX_JOBS:-2} \
      "$PY" -m pip wheel -q --no-build-isolation --no-deps -c "$CONSTRAINTS" -w "$WHEELS" mmcv==2.1.0
    WHEEL=$(ls "$WHEELS"/mmcv-2.1.0-*.whl | head -n 1)
  else
    log "reusing cached mmcv wheel $WHEEL"
  fi
  if [ "${MASKCLIP_UNLOCKED:-0}" = 1 ]; then pip_install "$WHEEL"; else pip_install --no-deps "$WHEEL"; fi
fi
if [ "${MASKCLIP_UNLOCKED:-0}" != 1 ]; then
  "$PY" -m pip check >/dev/null || {
    "$PY" -m pip check >&2 || true
    log "requirements/lock.txt is incomplete or inconsistent: refresh it with tools/lock_requirements.sh"
    exit 1
  }
fi

log "installing this repository (editable)"
"$PY" -m pip install -q --no-deps --no-build-isolation -e "$ROOT"
"$PY" - <<'PY'
import mmcv, mmcv.ops, mmseg, mmengine, open_clip, torch, maskclip  # noqa: F401
print(f'[install] ok: torch {torch.__version__}, mmcv {mmcv.__version__}, mmseg {mmseg.__version__}, '
      f'mmengine {mmengine.__version__}, open_clip {open_clip.__version__}')
PY
stamp_of > "$STAMP_FILE"
