#!/usr/bin/env bash
# Stage what scripts/device_train_paper.sh reads into .devdata/ (git-ignored, carried by the
# device tool): the 1083 MSRS training pairs and the first 32 validation pairs of test128.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${1:-../shared/data/msrs}
rm -rf .devdata && mkdir -p .devdata/msrs/test128/ir .devdata/msrs/test128/vi
cp -r "$SRC/train" .devdata/msrs/train
for stem in $(ls "$SRC/test128/ir" | sort | head -32); do
    cp "$SRC/test128/ir/$stem" .devdata/msrs/test128/ir/
    cp "$SRC/test128/vi/$stem" .devdata/msrs/test128/vi/
done
du -sh .devdata
