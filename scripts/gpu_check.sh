#!/usr/bin/env bash
# The GPU checks, as one run on a lent GPU machine (no package index there; torch, onnx and rich are):
#   here:  bash scripts/gpu_wheels.sh              # the missing packages, into .whl/
#   there: bash scripts/gpu_check.sh               # device tool: carry [".whl"], timeout_s 540
# It installs the wheels, runs the GPU and TensorRT tests, benchmarks/gpu.py and data_workers.py; the
# logs, the GPU's name and the benchmarks' tables come back under $OUT (7 files). PYTHON and DEVICE
# override python3 and cuda (a dry run on a machine without a GPU: DEVICE=cpu SKIP_WHEELS=1).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu-check}
PYTHON=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
mkdir -p "$OUT"

if [ -z "${SKIP_WHEELS:-}" ]; then
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' ||
    { echo "error: .whl holds wheels for CPython 3.12; this is $("$PYTHON" -V)"; exit 2; }
  ls .whl/*.whl >/dev/null 2>&1 || { echo "error: no .whl/ here: run scripts/gpu_wheels.sh and carry .whl"; exit 2; }
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl ||
    exit 2
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || true; } | tee "$OUT/gpu.txt"
"$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())' | tee -a "$OUT/gpu.txt"

"$PYTHON" -m pytest -q -rs -p no:cacheprovider tests/test_gpu.py tests/test_tensorrt.py 2>&1 | tee "$OUT/pytest.log"
tests=${PIPESTATUS[0]}
"$PYTHON" benchmarks/gpu.py --device "$DEVICE" --out "$OUT" 2>&1 | tee "$OUT/benchmarks.log"
bench=${PIPESTATUS[0]}
"$PYTHON" benchmarks/data_workers.py --device "$DEVICE" --out "$OUT" 2>&1 | tee -a "$OUT/benchmarks.log"
workers=${PIPESTATUS[0]}
echo "pytest exit $tests, gpu.py exit $bench, data_workers.py exit $workers"
exit $((tests || bench || workers))
