#!/usr/bin/env bash
# Measure every released checkpoint on every dataset in ../shared/data (or $1), next to the
# pixel-average and pixel-maximum baselines and SeAFusion's published results where the data
# folder holds them (peers/seafusion); writes docs/results/eval/{table.md,tables_by_dataset.md,
# results.csv,results.json}, which scripts/release_weights.py, docs/models.md and README.md take
# their figures from. Extra arguments go to pomai eval (e.g. --normalize none --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data}
shift || true
peers=()
for dataset_folder in msrs:msrs-test tno:tno roadscene:roadscene; do
    folder="$DATA/peers/seafusion/${dataset_folder#*:}"
    if [ -d "$folder" ]; then
        peers+=(--fused "SeAFusion:${dataset_folder%%:*}=$folder")
    fi
done
pomai eval msrs="$DATA/msrs/test" msrs128="$DATA/msrs/test128" tno="$DATA/tno" \
    roadscene="$DATA/roadscene" mri-ct="$DATA/harvard/MRI_CT" mri-pet="$DATA/harvard/MRI_PET" \
    mri-spect="$DATA/harvard/MRI_SPECT" \
    --model msrs=pomai/weights/msrs.safetensors \
    --model msrs-paper=pomai/weights/msrs-paper.safetensors \
    "${peers[@]}" --by-dataset --no-progress --out docs/results/eval "$@"
