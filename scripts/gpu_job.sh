#!/usr/bin/env bash
# A generic GPU job, an example to adapt: run the test suite on CUDA, benchmark fuse() of the
# released models on the GPU and, if asked, train a run again from its recorded settings.
#
#     OUT=results bash scripts/gpu_job.sh
#     OUT=results RUN=msrs-paper bash scripts/gpu_job.sh    # also retrain runs/msrs-paper
#
# Run it from the repository root of a checkout where pomai and its dev extra are installed.
# Environment: OUT (results folder, required), RUN (a run under runs/ to train again; its
# settings.json names the training data, which must exist on this machine).
set -euo pipefail
OUT=${OUT:?set OUT to the results folder}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/job.log") 2>&1
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; \
print(torch.cuda.get_device_name(), 'torch', torch.__version__)"

# The network, tiling and fuser tests on the GPU (float32, then bfloat16), then the rest.
python -m pytest -q tests/test_nn_*.py tests/test_tiling.py tests/test_fuser.py --device cuda
python -m pytest -q tests/test_nn_*.py tests/test_tiling.py tests/test_fuser.py --device cuda \
    --dtype bfloat16
python -m pytest -q

# docs/performance.md explains the settings of the GPU benchmark. The real-time rows: one
# 640×480 frame from a CUDA tensor to a CUDA tensor and batches of 8, float16 (and float32),
# eager, then compiled; the profile of each measurement comes with them.
python -m benchmarks.bench_fuse --model msrs --model msrs-paper --device cuda --in-process \
    --sizes 640x480 --tiled-sizes --batch 8 --batch-size 640x480 --runs 20 --no-ratio \
    --tensor-inputs --dtype float32 float16 --profile "$OUT/profiles" \
    --json "$OUT/bench_fuse_cuda.json"
python -m benchmarks.bench_fuse --model msrs --model msrs-paper --device cuda --in-process \
    --sizes 640x480 --tiled-sizes --batch 8 --batch-size 640x480 --runs 20 --no-ratio \
    --tensor-inputs --dtype float16 --compile --json "$OUT/bench_fuse_cuda_compile.json"

if [ -n "${RUN:-}" ]; then
    python -m pomai train --from-config "runs/$RUN/settings.json" --out "$OUT/$RUN" \
        --device cuda --no-progress
fi
