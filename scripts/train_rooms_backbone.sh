#!/usr/bin/env bash
# Trains the embedded rooms backbone shipped in src/diff2in1/assets/rooms64 (run on a GPU machine).
#   scripts/train_rooms_backbone.sh [RUN_DIR] [MINUTES]
# Resumable: run it again with the same RUN_DIR to continue. Then export with
#   diff2in1 export-backbone --model RUN_DIR/model --out src/diff2in1/assets/rooms64
set -euo pipefail
run=${1:-$HOME/.cache/diff2in1/pretrain/rooms64}
minutes=${2:-0}
data=${DATA:-$HOME/.cache/diff2in1/data/rooms64-25k}
diff2in1 data rooms --out "$data" --num 25000 --size 64 --seed 1000 --workers "$(nproc)"
diff2in1 pretrain --data "$data" --out "$run" --size 64 --steps "${STEPS:-24000}" --batch-size 128 \
  --lr 3e-4 --ema-decay 0.9995 --mixed-precision bf16 --sample-every 4000 --checkpoint-every 1000 \
  --max-minutes "$minutes"
