#!/usr/bin/env bash
# The GPU check: what CI (CPU only) cannot run, in one go on a machine with one NVIDIA GPU
# (under 8 minutes with a prepared wheel folder; the mmcv build, once, takes ~6 more).
#
#   bash .dev_scripts/gpu_check.sh [WHEEL_DIR]
#
# 1. Set up what the machine lacks, offline: a virtual environment that sees the machine's own
#    torch (--system-site-packages), the stack's pure-Python wheels from WHEEL_DIR (default
#    ./wheels), and mmcv 2.1.0 built from its sdist in WHEEL_DIR with CUDA hidden (our models
#    use only mmcv's CPU ops; this avoids needing nvcc). Make WHEEL_DIR on a machine with a
#    package registry:
#      pip download --no-deps -d wheels -r requirements/lock.txt \
#          --only-binary=:all: --python-version 3.12 --platform any  # pure-Python wheels
#      pip download --no-deps --no-binary=:all: -d wheels mmcv==2.1.0  # the mmcv sdist
#    (drop the torch / torchvision / numpy / CUDA lines that fail: the GPU machine has its own).
# 2. Run the CUDA-marked tests (pytest -m cuda): fp16 / bf16 inference against fp32 (label
#    agreement), the frozen teacher under autocast, batched windows and fused blocks on CUDA,
#    one-process DDP over NCCL with SyncBN kept.
# 3. Run the benchmark: the authors' evaluation loop against ours on a training-free config,
#    the dense forward against open_clip's encode_image, a MaskCLIP+ and a ReCLIP distillation
#    training step against the student-only step.
# 4. Print one table: what ran, its result, the key numbers.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHEELS=$(cd "${1:-$ROOT/wheels}" 2>/dev/null && pwd || true)
VENV=${MASKCLIP_GPU_VENV:-$ROOT/.venv-gpu}
OUT=${MASKCLIP_GPU_OUT:-$ROOT/work_dirs/gpu_check}
mkdir -p "$OUT"
cd "$ROOT"
export HF_HUB_OFFLINE=1
log() { echo "[gpu_check] $*"; }

python3 -c "import torch, sys; sys.exit(not torch.cuda.is_available())" || {
  log "no CUDA device visible to the system python's torch: nothing to check"; exit 1; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV (with the machine's torch)"
  python3 -m venv --system-site-packages "$VENV"
fi
PY="$VENV/bin/python"
if ! "$PY" -c "import mmseg, mmengine, open_clip" 2>/dev/null; then
  [ -n "$WHEELS" ] || { log "no wheel folder (give WHEEL_DIR); see the header"; exit 1; }
  log "installing the pure-Python wheels of $WHEELS"
  "$PY" -m pip install -q --no-index --find-links "$WHEELS" --no-deps "$WHEELS"/*.whl
fi
if ! "$PY" -c "import mmcv, mmcv.ops" 2>/dev/null; then
  log "building mmcv 2.1.0 with its CPU ops (CUDA hidden; ~6 minutes)"
  CUDA_VISIBLE_DEVICES= FORCE_CUDA=0 MMCV_WITH_OPS=1 "$PY" -m pip install -q --no-index \
    --no-build-isolation --no-deps "$WHEELS"/mmcv-2.1.0.tar.gz || exit 1
fi
"$PY" -m pip install -q --no-deps --no-build-isolation -e . || exit 1

START=$(date +%s)
log "CUDA-marked tests"
"$PY" -m pytest tests -m cuda -q -s -p no:cacheprovider -o addopts="" \
  > "$OUT/tests.log" 2>&1
TESTS=$?
tail -n 3 "$OUT/tests.log"

log "benchmarks"
"$PY" tools/benchmark.py --eval configs/sclip/sclip_vit-b16_voc21-336x336-slide224.py \
  --size 336 --device cuda --repeats 10 > "$OUT/eval.log" 2>&1
EVAL=$?
"$PY" tools/benchmark.py --model ViT-B-16 --size 448 --device cuda --repeats 20 \
  --modes maskclip sclip clearclip naclip > "$OUT/encoder.log" 2>&1
ENCODER=$?
"$PY" tools/benchmark.py --device cuda --size 512 --batch 4 --repeats 10 --train-step \
  configs/maskclip_plus/maskclip-plus-vit-b16_deeplabv2-r101_4xb4-2k_voc12-20-512x512.py \
  > "$OUT/train_step.log" 2>&1
TRAIN=$?
"$PY" tools/benchmark.py --device cuda --size 512 --batch 4 --repeats 10 --train-step \
  configs/reclip/reclip-distillation_vit-b16_deeplabv2-r101_4xb4-4k_pascal-context-59-480x480.py \
  > "$OUT/train_step_reclip.log" 2>&1
TRAIN_RECLIP=$?

status() { [ "$1" -eq 0 ] && echo ok || echo "FAILED (exit $1)"; }
{
  echo
  echo "| check | result | numbers |"
  echo "|---|---|---|"
  echo "| CUDA tests (pytest -m cuda) | $(status $TESTS) | $(grep -E 'passed|failed' "$OUT/tests.log" | tail -n 1) |"
  grep -E 'agree' "$OUT/tests.log" | sed 's/^/| precision | | /; s/$/ |/'
  echo "| eval loop, authors vs ours | $(status $EVAL) | $(grep 'images per second' "$OUT/eval.log") |"
  echo "| dense forward vs encode_image | $(status $ENCODER) | $(grep -E 'ours, .* dense' "$OUT/encoder.log" | awk '{print $2, $(NF-1)}' | paste -sd ';' -) |"
  echo "| MaskCLIP+ step vs student-only | $(status $TRAIN) | $(grep -E 'step' "$OUT/train_step.log" | tail -n 1) |"
  echo "| ReCLIP distillation step vs student-only | $(status $TRAIN_RECLIP) | $(grep -E 'ReCLIPDistill' "$OUT/train_step_reclip.log" | tail -n 1) |"
  echo
  echo "took $(( $(date +%s) - START )) s after setup; logs in $OUT"
} | tee "$OUT/summary.md"
[ $TESTS -eq 0 ] && [ $EVAL -eq 0 ] && [ $ENCODER -eq 0 ] && [ $TRAIN -eq 0 ] && \
  [ $TRAIN_RECLIP -eq 0 ]
