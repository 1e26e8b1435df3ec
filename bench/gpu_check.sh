#!/usr/bin/env bash
# The Stable Diffusion-size path on one CUDA GPU, in one time-boxed run (about 6 minutes on an H200):
#   1. bench/speed.py --size sd15 (SD v1.5 shapes, random weights, 512x512) in bf16: every section (in two
#      runs, so that a time-out of the second keeps the first's figures);
#   2. the whole CLI (`diff2in1 run`, then `diff2in1 predict` on its improve checkpoint) on a small rooms set
#      with mixed_precision bf16 and fp16, and on the tiny random Stable Diffusion in bf16; the CUDA tests;
#   3. the same speed runs in fp32.
#
#   bench/gpu_check.sh OUT              # on the GPU machine (python3 with torch, diffusers and this package)
#   GPU_CHECK_QUICK=1 bench/gpu_check.sh OUT   # the same steps on the CPU with tiny sizes: a rehearsal
#   GPU_CHECK_STEPS="speed-fp32 rooms-bf16" bench/gpu_check.sh OUT   # only these steps
#   (steps: speed-bf16 speed-bf16-more rooms-bf16 rooms-fp16 tiny-sd-bf16 pytest-gpu speed-fp32 speed-fp32-more
#   trainable-bf16 gate-s0 gate-s1 gate-s2;
#   GPU_CHECK_SECONDS: the time every step must end by, 330 s by default)
#
# Writes OUT/summary.txt (one line per step: name, exit status, seconds), OUT/speed/speed-*.json|md and
# OUT/runs.tgz (each step's log; the run folders' configs, logs and metrics, no images or checkpoints).
set -u -o pipefail
OUT=$(realpath -m "${1:?usage: bench/gpu_check.sh OUT}")
PY=${PYTHON:-python3}
QUICK=${GPU_CHECK_QUICK:-0}
cd "$(dirname "$0")/.."
WORK=$(mktemp -d)
LOGS=$WORK/logs  # into OUT/runs.tgz at the end: the machine returns few files
mkdir -p "$OUT/speed" "$LOGS"
# In a copy of the tree inside another checkout, git must not report that checkout's commit.
export PYTHONUNBUFFERED=1 DIFF2IN1_GIT_COMMIT=${DIFF2IN1_GIT_COMMIT:-} GIT_CEILING_DIRECTORIES=$(dirname "$PWD")

if [ "$QUICK" = 1 ]; then
  DEVICE=cpu; SIZE=tiny; REPEATS=1; EPOCH=16; ROOMS=24; T_ROOMS=300; T_SPEED=300
else
  DEVICE=cuda; SIZE=sd15; REPEATS=3; EPOCH=32; ROOMS=48; T_ROOMS=150; T_SPEED=150
fi
# Every step ends by GPU_CHECK_SECONDS after the start, so the whole check fits one call of the GPU machine.
END=$(($(date +%s) + ${GPU_CHECK_SECONDS:-330}))

# step NAME SECONDS COMMAND...: run it time-boxed, log to LOGS/NAME.log, print its end, one summary line
step() {
  local name=$1 limit=$2 start rc
  shift 2
  start=$(date +%s)
  case " ${GPU_CHECK_STEPS:-$name} " in *" $name "*) ;; *) return ;; esac
  limit=$((limit < END - start - 5 ? limit : END - start - 5))
  if [ "$limit" -lt 10 ]; then
    echo "$name skipped (no time left)" | tee -a "$OUT/summary.txt"
    return
  fi
  echo "== $name: $* (at most ${limit}s, $(date -u +%H:%M:%S))"
  timeout -k 5 "$limit" "$@" >"$LOGS/$name.log" 2>&1
  rc=$?
  tr '\r' '\n' <"$LOGS/$name.log" | grep -v '^\s*$' | tail -n 25
  echo "$name rc=$rc $(($(date +%s) - start))s$([ $rc = 124 ] && echo ' (timed out)')" | tee -a "$OUT/summary.txt"
}

speed() {  # speed NAME PRECISION SECONDS EXTRA...
  local name=$1 precision=$2 limit=$3
  shift 3
  step "$name" "$limit" "$PY" bench/speed.py --device "$DEVICE" --size "$SIZE" \
    --precision "$precision" --batch-size 8 --epoch-images "$EPOCH" --creation-batch 4 --creation-steps 82 \
    --repeats "$REPEATS" --out "$OUT/speed" "$@"
}

# A small rooms run (or one on the tiny Stable Diffusion), then predict with its improve checkpoint.
cli_run() {  # cli_run NAME PRECISION BACKBONE IMAGE_SIZE
  local name=$1 precision=$2 backbone=$3 size=$4 run="$WORK/$1"
  cat >"$WORK/$name.yaml" <<EOF
out: $run
rooms: {num: $ROOMS, size: $size, seed: 0, test_fraction: 0.25}
data: $run-rooms
dataset: rooms
backbone: $backbone
mixed_precision: $precision
num_labelled: 16
batch_size: 4
channels: 16
progress: false
warmup: {steps: 12, eval_split: test}
create: {t_star: 600, steps: 10, batch_size: 8}
improve: {steps: 6, pseudo_batch_size: 4, views: 3, unlabelled: split, unlabelled_limit: 8, lr_warmup: 2}
EOF
  "$PY" -m diff2in1.cli.main run "$WORK/$name.yaml" &&
    "$PY" -m diff2in1.cli.main predict --checkpoint "$run/improve/checkpoint" --input "$run-rooms" \
      --out "$run/predict" &&
    "$PY" bench/gpu_check_run.py "$run" --device "$DEVICE" --out "$WORK/$name-check.json"
}

{
  echo "gpu_check: $(date -u +%FT%TZ) commit $(git rev-parse HEAD 2>/dev/null || echo "${DIFF2IN1_GIT_COMMIT:-unknown}")"
  "$PY" -c "import torch, diffusers, transformers, accelerate; print('torch', torch.__version__, 'cuda',
torch.version.cuda, 'diffusers', diffusers.__version__, 'transformers', transformers.__version__,
'accelerate', accelerate.__version__); print(torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv
} | tee "$OUT/summary.txt"

speed speed-bf16 bf16 "$T_SPEED" --sections features warmup creation
speed speed-bf16-more bf16 "$T_SPEED" --sections epoch improve --update
# The CLI runs use little of the GPU: side by side, they take the time of one.
"$PY" -c "from diff2in1.backbones.tiny import save_tiny_stable_diffusion as s; s('$WORK/tiny_sd')"
export -f cli_run
export PY WORK ROOMS DEVICE
# Four processes share the machine's cores: torch's default of one thread per core each would oversubscribe them.
SHARE=$(($(nproc) / 4 > 0 ? $(nproc) / 4 : 1))
step rooms-bf16 "$T_ROOMS" env OMP_NUM_THREADS=$SHARE bash -c 'cli_run "$@"' _ rooms-bf16 bf16 embedded 64 &
step rooms-fp16 "$T_ROOMS" env OMP_NUM_THREADS=$SHARE bash -c 'cli_run "$@"' _ rooms-fp16 fp16 embedded 64 &
step tiny-sd-bf16 "$T_ROOMS" env OMP_NUM_THREADS=$SHARE bash -c 'cli_run "$@"' _ tiny-sd-bf16 bf16 "$WORK/tiny_sd" 32 &
if [ "$QUICK" != 1 ]; then
  step pytest-gpu "$T_ROOMS" env OMP_NUM_THREADS=$SHARE "$PY" -m pytest -q -p no:cacheprovider -m gpu tests/backbones/test_backbone_gpu.py &
fi
wait
speed speed-fp32 fp32 "$T_SPEED" --sections features warmup creation
speed speed-fp32-more fp32 "$T_SPEED" --sections epoch improve --update
# The trainable UNet's step (none / lora / full, with and without gradient checkpointing), rooms and SD size.
step trainable-bf16 "$T_SPEED" "$PY" bench/speed_trainable.py --device "$DEVICE" --precision bf16 \
  --sizes embedded sd15 --batch-sizes 8 8 --repeats 5 3 --out "$OUT/speed"
# The trainable-backbone gate on rooms (100 and 800 labels, 3 seeds), one process per seed, on one rooms set.
"$PY" -c "import sys; sys.path.insert(0, 'bench'); import backbone_gate as g, pathlib; g._rooms(pathlib.Path('$WORK/gate'))"
for seed in 0 1 2; do
  step "gate-s$seed" "$T_ROOMS" "$PY" bench/backbone_gate.py --seeds "$seed" --work "$WORK/gate" \
    --results "$OUT/gate-s$seed" &
done
wait
(cd "$WORK" && tar czf "$OUT/runs.tgz" --exclude='*.png' --exclude='*.safetensors' --exclude='*.npy' \
  --exclude='features' --exclude='*-rooms' --exclude='tiny_sd' .)
echo "gpu_check: done $(date -u +%FT%TZ)" | tee -a "$OUT/summary.txt"
