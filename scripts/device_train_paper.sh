#!/usr/bin/env bash
# One GPU job (about 10 minutes): the paper-width MSRS training run, the CUDA tests and the GPU
# fuse benchmark. Written for the `device` tool, whose machine starts bare: run it from the repo
# root with the training pairs staged by `scripts/stage_device_data.sh` (carry `.devdata`).
#
# The run is the paper's: config `paper`, 80 + 20 epochs, batch 16, Adam 1e-4 halved every
# 20 epochs, with the same augmentation as the released `msrs` run. A 200-step probe measures
# the step time first; if the whole schedule cannot end inside the time left, the job trains
# half the schedule instead (40 + 10 epochs, lr halved every 10, as `msrs`) and says so.
#
# Environment: OUT (results folder), JOB_SECONDS (whole-job budget, default 570),
# DEVICE (default cuda), CONFIG (default paper), PROBE_STEPS (default 200).
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
OUT=${OUT:?set OUT to the results folder}
JOB_SECONDS=${JOB_SECONDS:-570}
DEVICE=${DEVICE:-cuda}
CONFIG=${CONFIG:-paper}
PROBE_STEPS=${PROBE_STEPS:-200}
START=$(date +%s)
left() { echo $((JOB_SECONDS - ($(date +%s) - START))); }
log() { echo "[job $(($(date +%s) - START))s] $*"; }
pomai() { python3 -m pomai "$@"; }

exec > >(tee -a "$OUT/job.log") 2>&1
log "host: $(nvidia-smi -L 2>/dev/null | head -1); torch $(python3 -c 'import torch; print(torch.__version__)')"

# The training data sits where the settings say it does on every machine.
if [ -d .devdata/msrs ] && [ ! -e ../shared/data/msrs ]; then
    mkdir -p ../shared/data && mv .devdata/msrs ../shared/data/msrs
fi

log "CUDA tests"
timeout 60 python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_fuser.py

COMMON=(--data ../shared/data/msrs/train --config "$CONFIG" --batch 16 --lr 1e-4
        --zoom-prob 0.5 --zoom-max 4 --seed 0 --val ../shared/data/msrs/test128 --val-pairs 8
        --checkpoint-every 1000 --device "$DEVICE" --no-progress)
RUN=/tmp/msrs-paper
rm -rf "$RUN" /tmp/msrs-paper-half
log "probe: $PROBE_STEPS steps of the paper schedule"
pomai train "${COMMON[@]}" --epochs 80 --epochs-stage2 20 --lr-step-epochs 20 \
    --out "$RUN" --max-steps "$PROBE_STEPS"
per_step=$(python3 -c "
import torch, sys
s = torch.load('$RUN/checkpoint.pt', map_location='cpu', weights_only=True)['state']
print(s['wall_time'] / s['global_step'])")
steps_per_epoch=$(( $(ls ../shared/data/msrs/train/ir | wc -l) / 16 ))
reserve=45  # export, copying the run, and a short benchmark
need=$(python3 -c "print(int($per_step * ($steps_per_epoch * 100 - $PROBE_STEPS) + 20))")
log "measured ${per_step} s/step; the rest of the paper schedule needs about ${need} s, $(left) s left"
budget=$(( $(left) - reserve ))
if [ "$budget" -lt 30 ]; then
    log "no time left to train after the probe"
elif [ "$need" -gt "$budget" ]; then
    RUN=/tmp/msrs-paper-half
    log "too slow for the paper schedule: training half of it (40 + 10 epochs) into $RUN"
    timeout "$budget" python3 -m pomai train "${COMMON[@]}" --epochs 40 --epochs-stage2 10 \
        --lr-step-epochs 10 --out "$RUN"
    log "training exit $?"
else
    timeout "$budget" python3 -m pomai train --resume --out "$RUN" --no-progress
    log "training exit $?"
fi
mkdir -p "$OUT/run"
for f in checkpoint.pt settings.json steps.csv epochs.json model.safetensors manifest_entry.json; do
    [ -f "$RUN/$f" ] && cp "$RUN/$f" "$OUT/run/"
done

bench=$(( $(left) - 10 ))
if [ "$bench" -gt 20 ]; then
    log "GPU fuse benchmark ($bench s)"
    timeout "$bench" python3 benchmarks/bench_fuse.py --config paper --config tiny \
        --device cuda --sizes 640x480 1280x1024 --tiled-sizes 4096x4096 --batch 8 --runs 5 \
        --tiled-runs 3 --no-ratio --json "$OUT/bench_gpu.json"
fi
log "done"
