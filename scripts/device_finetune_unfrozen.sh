#!/usr/bin/env bash
# One GPU job (about 6 minutes): profile and benchmark fuse() on the GPU, then fine-tune the
# base runs of both releases with every weight trained in stage 2 (the recipe that made the
# released checkpoints, docs/models.md). Written for the `device` tool, whose machine starts
# bare: run it from the repository root with the training pairs staged by
# `scripts/stage_device_data.sh` (carry `.devdata`).
#
# Each fine-tune is a fresh `pomai train --from-config runs/msrs-tiny-unfrozen/settings.json`;
# only the width, the initial weights (runs/msrs-tiny or runs/msrs-paper, model.safetensors)
# and the number of stage-2 epochs differ. FINETUNES lists them as WIDTH:EPOCHS (default
# "paper:3 paper:10 tiny:10"; paper:3 made the released msrs-paper, in 102 s on an H200).
# Each run folder comes back as $OUT/<width>-e<epochs>.tar; the profile and benchmark as
# $OUT/bench.tar. Evaluate the runs with scripts/device_evaluate.sh in the same lease.
#
# Environment: OUT (results folder), JOB_SECONDS (whole-job budget, default 400),
# DEVICE (default cuda), THREADS (CPU threads of each run, default 4), FINETUNES,
# MAX_STEPS (stop each run early: a CPU rehearsal).
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

MODELS=(--model pomai/weights/msrs.safetensors --model pomai/weights/msrs-paper.safetensors)
BENCH=/tmp/bench && rm -rf "$BENCH" && mkdir -p "$BENCH"
log "profile one fuse() call per release on $DEVICE, 640x480, float32"
timeout 90 python3 benchmarks/bench_fuse.py "${MODELS[@]}" --device "$DEVICE" --dtype float32 \
    --sizes 640x480 --tiled-sizes --batch 0 --runs 5 --no-ratio --profile "$BENCH/profiles" \
    --json "$BENCH/profile_timing.json"
log "benchmark, float32 and float16"
timeout 120 python3 benchmarks/bench_fuse.py "${MODELS[@]}" --device "$DEVICE" \
    --sizes 640x480 1280x1024 --tiled-sizes --batch 8 --runs 5 --no-ratio \
    --json "$BENCH/bench_gpu.json"
tar -C /tmp -cf "$OUT/bench.tar" bench

RUNS=/tmp/unfrozen-runs
rm -rf "$RUNS" && mkdir -p "$RUNS"
declare -A BASE=([paper]=runs/msrs-paper/model.safetensors [tiny]=runs/msrs-tiny/model.safetensors)
for spec in ${FINETUNES:-paper:3 paper:10 tiny:10}; do
    width=${spec%%:*} epochs=${spec##*:}
    name=$width-e$epochs
    limit=$(( $(left) - 15 ))
    if [ "$limit" -lt 30 ]; then log "skipping $name: $(left) s left"; continue; fi
    log "fine-tune $name ($width from ${BASE[$width]}, $epochs epochs, at most $limit s)"
    timeout "$limit" python3 -m pomai train --from-config runs/msrs-tiny-unfrozen/settings.json \
        --config "$width" --init "${BASE[$width]}" --epochs-stage2 "$epochs" --device "$DEVICE" \
        --threads "$THREADS" --checkpoint-every 1000 ${MAX_STEPS:+--max-steps "$MAX_STEPS"} \
        --out "$RUNS/$name"
    log "$name exit $?"
    tar -C "$RUNS" -cf "$OUT/$name.tar" "$name"
done
log "done"
