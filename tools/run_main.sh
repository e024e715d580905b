#!/usr/bin/env bash
# The main job: set everything up (idempotent) and evaluate MaskCLIP ViT-B/16 on the sample data
# shipped in data/sample_scenes, printing the mIoU table. Extra arguments go to tools/test.py:
#   bash tools/run_main.sh                                 # open_clip 'openai' weights (download)
#   bash tools/run_main.sh --clip-weights ViT-B-16.pt      # a local checkpoint
#   bash tools/run_main.sh --random-weights                # smoke run, meaningless numbers
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/tools/install.sh"
cd "$ROOT"
exec "${MASKCLIP_VENV:-$ROOT/.venv}/bin/python" tools/test.py \
  configs/maskclip/maskclip_vit-b16_sample-scenes-448x448.py "$@"
