#!/usr/bin/env bash
# One GPU job (about 6 minutes): fine-tune both released checkpoints with every weight trained
# in stage 2 (the recipe of runs/msrs-tiny-unfrozen, the best variant of the ablation table in
# docs/models.md), then profile and benchmark fuse() on the GPU. Written for the `device` tool,
# whose machine starts bare: run it from the repository root with the training pairs staged by
# `scripts/stage_device_data.sh` (carry `.devdata`).
#
# Runs (each a fresh `pomai train --from-config runs/msrs-tiny-unfrozen/settings.json`, only
# the width, the initial weights and the number of stage-2 epochs differ):
#   paper-e3  msrs-paper + 3 epochs      paper-e10  msrs-paper + 10 epochs
#   tiny-e10  msrs + 10 epochs           (msrs + 3 epochs is runs/msrs-tiny-unfrozen, on CPU)
# Each run folder comes back as $OUT/<run>.tar; the profile and benchmark as $OUT/bench.tar.
#
# Environment: OUT (results folder), JOB_SECONDS (whole-job budget, default 400),
# DEVICE (default cuda), THREADS (CPU threads of each run, default 4), EPOCHS (the two epoch
# counts, default "3 10"), MAX_STEPS (stop each run early: a CPU rehearsal).
# The paper width needs about 1.5 GB per training sample (batch 16 does not fit in 24 GB):
# on a 24 GB CPU machine rehearse it with --batch 2, not through this script.
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
OUT=${OUT:?set OUT to the results folder}
JOB_SECONDS=${JOB_SECONDS:-400}
DEVICE=${DEVICE:-cuda}
THREADS=${THREADS:-4}
START=$(date +%s)
left() { echo $((JOB_SECONDS - ($(date +%s) - START))); }
log() { echo "[job $(($(date +%s) - START))s] $*"; }

exec > >(tee -a "$OUT/job.log") 2>&1
log "host: $(nvidia-smi -L 2>/dev/null | head -1); torch $(python3 -c 'import torch; print(torch.__version__)')"

if [ -d .devdata/msrs ] && [ ! -e ../shared/data/msrs ]; then
    mkdir -p ../shared/data && mv .devdata/msrs ../shared/data/msrs
fi

RUNS=/tmp/unfrozen-runs
rm -rf "$RUNS" && mkdir -p "$RUNS"
finetune() {  # run-name config initial-weights stage-2-epochs
    local limit=$(( $(left) - 90 ))
    if [ "$limit" -lt 30 ]; then log "skipping $1: $(left) s left"; return; fi
    log "fine-tune $1 ($2 from $3, $4 epochs, at most $limit s)"
    timeout "$limit" python3 -m pomai train --from-config runs/msrs-tiny-unfrozen/settings.json \
        --config "$2" --init "$3" --epochs-stage2 "$4" --device "$DEVICE" --threads "$THREADS" \
        --checkpoint-every 1000 ${MAX_STEPS:+--max-steps "$MAX_STEPS"} --out "$RUNS/$1"
    log "$1 exit $?"
    tar -C "$RUNS" -cf "$OUT/$1.tar" "$1"
}
read -r E_SHORT E_LONG <<< "${EPOCHS:-3 10}"
finetune "paper-e$E_SHORT" paper runs/msrs-paper/model.safetensors "$E_SHORT"
finetune "paper-e$E_LONG" paper runs/msrs-paper/model.safetensors "$E_LONG"
finetune "tiny-e$E_LONG" tiny runs/msrs-tiny/model.safetensors "$E_LONG"

BENCH=/tmp/bench && rm -rf "$BENCH" && mkdir -p "$BENCH"
limit=$(( $(left) - 15 ))
if [ "$limit" -gt 20 ]; then
    log "profile one fuse() call per model on $DEVICE, 640x480, float32 ($limit s)"
    timeout "$limit" python3 benchmarks/bench_fuse.py --model pomai/weights/msrs.safetensors --model pomai/weights/msrs-paper.safetensors \
        --device "$DEVICE" --dtype float32 --sizes 640x480 --tiled-sizes --batch 0 --runs 5 \
        --no-ratio --profile "$BENCH/profiles" --json "$BENCH/profile_timing.json"
fi
limit=$(( $(left) - 10 ))
if [ "$limit" -gt 20 ]; then
    log "benchmark, float32 and float16 ($limit s)"
    timeout "$limit" python3 benchmarks/bench_fuse.py --model pomai/weights/msrs.safetensors --model pomai/weights/msrs-paper.safetensors \
        --device "$DEVICE" --sizes 640x480 1280x1024 --tiled-sizes --batch 8 --runs 5 \
        --no-ratio --json "$BENCH/bench_gpu.json"
fi
tar -C /tmp -cf "$OUT/bench.tar" bench
log "done"
