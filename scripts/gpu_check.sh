#!/usr/bin/env bash
# The GPU checks, as one run on a lent GPU machine (no package index there; torch, onnx and rich are):
#   here:  bash scripts/gpu_wheels.sh              # the missing packages, into .whl/
#   there: bash scripts/gpu_check.sh               # device tool: carry [".whl"], timeout_s 590
# It installs the wheels, then runs, each under its own time limit so that one slow step cannot starve
# the rest: the GPU and TensorRT tests, benchmarks/gpu.py, loss_reads.py and data_workers.py, most
# needed first. The TensorRT tests build and run real engines only where the image has the tensorrt
# package (NVIDIA's TensorRT images do; its wheels exceed what the device tool carries): the script says
# which, and REQUIRE_TENSORRT=1 makes its absence a failure. The GPU's name, the logs and the benchmarks'
# tables come back under $OUT (8 files, the device tool's most); on an H200 it took 293 s. PYTHON and DEVICE override python3 and cuda (a dry run
# on a machine without a GPU: DEVICE=cpu SKIP_WHEELS=1; data_workers.py then runs past its limit).
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

# step LIMIT_S NAME COMMAND...: COMMAND under a time limit, its output appended to $OUT/NAME.log
step() {
  local limit=$1 log="$OUT/$2.log"
  shift 2
  echo "== $* (limit ${limit} s)" | tee -a "$log"
  timeout -k 5 "$limit" "$@" 2>&1 | tee -a "$log"
  local status=${PIPESTATUS[0]}
  [ "$status" = 124 ] && echo "== stopped at its ${limit} s limit" | tee -a "$log"
  return "$status"
}

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || true; } | tee "$OUT/check.log"
"$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())' | tee -a "$OUT/check.log"

# tests/test_tensorrt.py's real engines (marker tensorrt) need the tensorrt package: say whether it is here.
if "$PYTHON" -c 'import tensorrt; print("tensorrt", tensorrt.__version__)' 2>/dev/null | tee -a "$OUT/check.log"; then
  :
else
  echo "no TensorRT in this image: the real-engine tests of tests/test_tensorrt.py will skip (REQUIRE_TENSORRT=1 fails instead)" |
    tee -a "$OUT/check.log"
  [ -n "${REQUIRE_TENSORRT:-}" ] && exit 2
fi
step 120 check "$PYTHON" -m pytest -q -rs -p no:cacheprovider tests/test_gpu.py tests/test_tensorrt.py
tests=$?
step 180 benchmarks "$PYTHON" benchmarks/gpu.py --device "$DEVICE" --out "$OUT"
bench=$?
step 90 benchmarks "$PYTHON" benchmarks/loss_reads.py --device "$DEVICE" --out "$OUT"
reads=$?
step 170 benchmarks "$PYTHON" benchmarks/data_workers.py --device "$DEVICE" --out "$OUT"
workers=$?
echo "pytest exit $tests, gpu.py exit $bench, loss_reads.py exit $reads, data_workers.py exit $workers" |
  tee -a "$OUT/check.log"
exit $((tests || bench || reads || workers))
