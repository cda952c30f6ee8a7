#!/usr/bin/env bash
# One GPU job (about 8 minutes): benchmark fuse() of both releases on the GPU, run the CUDA
# tests, then fine-tune base runs with every weight trained in stage 2 (the recipe that made
# the released checkpoints, docs/models.md). Written for the `device` tool, whose machine
# starts bare: run it from the repository root with the training pairs staged by
# `scripts/stage_device_data.sh` (carry `.devdata`).
#
# Each fine-tune is a fresh `pomai train --from-config runs/msrs-tiny-unfrozen/settings.json`;
# only the width, the initial weights (runs/msrs-tiny or runs/msrs-paper, model.safetensors)
# and the number of stage-2 epochs differ. FINETUNES lists them as WIDTH:EPOCHS (default
# "paper:15", the released msrs-paper: 282 s on an H200, about 18 s per paper-width epoch).
# They run one after the other: two paper-width runs side by side took 46 s per epoch each.
# Each run folder comes back as $OUT/<width>-e<epochs>.tar (its checkpoint.pt beside it), the
# benchmark (and profile) as $OUT/bench.tar. Evaluate the runs with scripts/device_evaluate.sh
# in the same lease or scripts/evaluate_variants.py here.
#
# Environment: OUT (results folder), JOB_SECONDS (whole-job budget, default 540),
# DEVICE (default cuda), THREADS (CPU threads of each run, default 4), FINETUNES,
# BENCH_SECONDS (default 100; 0 skips the benchmark), PROFILE=1 (also profile one call of
# each release), BENCH_SIZES (default "640x480 1280x1024"), MAX_STEPS and DATA (stop each run
# early, train on other pairs: a CPU rehearsal).
# The paper width needs about 1.5 GB per training sample (batch 16 does not fit in 24 GB):
# on a 24 GB CPU machine rehearse it with --batch 2, not through this script.
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
OUT=${OUT:?set OUT to the results folder}
JOB_SECONDS=${JOB_SECONDS:-540}
DEVICE=${DEVICE:-cuda}
THREADS=${THREADS:-4}
BENCH_SECONDS=${BENCH_SECONDS:-100}
START=$(date +%s)
left() { echo $((JOB_SECONDS - ($(date +%s) - START))); }
log() { echo "[job $(($(date +%s) - START))s] $*"; }

exec > >(tee -a "$OUT/job.log") 2>&1
log "host: $(nvidia-smi -L 2>/dev/null | head -1); torch $(python3 -c 'import torch; print(torch.__version__)')"

if [ -d .devdata/msrs ] && [ ! -e ../shared/data/msrs ]; then
    mkdir -p ../shared/data && mv .devdata/msrs ../shared/data/msrs
fi

BENCH=/tmp/bench && rm -rf "$BENCH" && mkdir -p "$BENCH"
if [ "$BENCH_SECONDS" -gt 0 ]; then
    # Command 7 of docs/performance.md, which says why it runs in one process.
    log "benchmark both releases on $DEVICE, float32 and float16"
    timeout "$BENCH_SECONDS" python3 benchmarks/bench_fuse.py --model msrs --model msrs-paper \
        --device "$DEVICE" --in-process --sizes ${BENCH_SIZES:-640x480 1280x1024} --tiled-sizes \
        --batch 8 --runs 5 --no-ratio ${PROFILE:+--profile "$BENCH/profiles"} \
        --json "$BENCH/bench_gpu.json"
    log "benchmark exit $?"
fi
tar -C /tmp -cf "$OUT/bench.tar" bench

if [ "$DEVICE" = cuda ]; then
    log "CUDA tests"
    timeout 90 python3 -m pytest -q -p no:cacheprovider -m gpu tests
fi

RUNS=/tmp/unfrozen-runs
rm -rf "$RUNS" && mkdir -p "$RUNS"
declare -A BASE=([paper]=runs/msrs-paper/model.safetensors [tiny]=runs/msrs-tiny/model.safetensors)
for spec in ${FINETUNES-paper:15}; do
    width=${spec%%:*} epochs=${spec##*:}
    name=$width-e$epochs
    limit=$(( $(left) - 15 ))
    if [ "$limit" -lt 30 ]; then log "skipping $name: $(left) s left"; continue; fi
    log "fine-tune $name ($width from ${BASE[$width]}, $epochs epochs, at most $limit s)"
    timeout "$limit" python3 -m pomai train --from-config runs/msrs-tiny-unfrozen/settings.json \
        --config "$width" --init "${BASE[$width]}" --epochs-stage2 "$epochs" --device "$DEVICE" \
        --threads "$THREADS" --checkpoint-every 1000 ${MAX_STEPS:+--max-steps "$MAX_STEPS"} \
        ${DATA:+--data "$DATA"} --out "$RUNS/$name"
    log "$name exit $?"
    [ -d "$RUNS/$name" ] || continue
    # A paper-width checkpoint.pt in the tar would pass the tool's 16 MiB per file.
    [ -f "$RUNS/$name/checkpoint.pt" ] && mv "$RUNS/$name/checkpoint.pt" "$OUT/$name.checkpoint.pt"
    tar -C "$RUNS" -cf "$OUT/$name.tar" "$name"
done
log "done"
