#!/usr/bin/env bash
# Stage what scripts/device_evaluate.sh reads into .deveval/ (git-ignored, carried by the
# device tool): the seven full test sets of ../shared/data (MSRS test, TNO, RoadScene, Harvard)
# and the checkpoints given as NAME=PATH arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${SRC:-../shared/data}
rm -rf .deveval && mkdir -p .deveval/data/msrs .deveval/models
cp -r "$SRC/msrs/test" .deveval/data/msrs/test
cp -r "$SRC/tno" "$SRC/roadscene" "$SRC/harvard" .deveval/data/
for spec in "$@"; do
    cp "${spec#*=}" ".deveval/models/${spec%%=*}.safetensors"
done
du -sh .deveval
