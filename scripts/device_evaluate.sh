#!/usr/bin/env bash
# One GPU job (about 2 minutes): `pomai eval` of every checkpoint in .deveval/models/ on the
# seven test sets in .deveval/data/ (laid out as ../shared/data), all checkpoints at once.
# Used to compare candidate checkpoints inside a `device` lease (stage the folder with
# `scripts/stage_device_eval.sh CHECKPOINT...`, carry `.deveval`); the released figures
# come from scripts/evaluate_release.sh on the CPU.
#
# Environment: OUT (results folder; gets eval.tar and job.log), DEVICE (default cuda),
# THREADS (CPU threads per evaluation, default 2).
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD OMP_NUM_THREADS=${THREADS:-2}
OUT=${OUT:?set OUT to the results folder}
DEVICE=${DEVICE:-cuda}
D=.deveval/data
exec > >(tee -a "$OUT/job.log") 2>&1
echo "host: $(nvidia-smi -L 2>/dev/null | head -1); $(date)"

mkdir -p /tmp/eval
pids=()
for weights in .deveval/models/*.safetensors; do
    name=$(basename "$weights" .safetensors)
    python3 -m pomai eval msrs="$D/msrs/test" tno="$D/tno" roadscene="$D/roadscene" \
        mri-ct="$D/harvard/MRI_CT" mri-pet="$D/harvard/MRI_PET" mri-spect="$D/harvard/MRI_SPECT" \
        --model "$name=$weights" --device "$DEVICE" --by-dataset --no-progress \
        --out "/tmp/eval/$name" > "/tmp/eval/$name.log" 2>&1 &
    pids+=($!)
done
wait "${pids[@]}"  # a bare wait would also wait for the tee above
tail -n 3 /tmp/eval/*.log
tar -C /tmp -cf "$OUT/eval.tar" eval
echo "done: $(date)"
