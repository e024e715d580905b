#!/usr/bin/env bash
# Set everything up (idempotent) and run the whole test suite, slow tests included.
# Extra arguments go to pytest, e.g. `bash tools/run_tests.sh -m "not slow"` for a quick pass.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/tools/install.sh"
cd "$ROOT"
export HF_HUB_OFFLINE=1  # tests never download; they build CLIP with random weights
exec "${MASKCLIP_VENV:-$ROOT/.venv}/bin/python" -m pytest tests "$@"
