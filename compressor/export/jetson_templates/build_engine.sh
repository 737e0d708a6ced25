#!/usr/bin/env bash
# Build model.engine from model.onnx on this Jetson with trtexec (TensorRT __TENSORRT__, JetPack __JETPACK__).
# Usage: ./build_engine.sh [--useDLACore N]   (DLA: layers DLA cannot run fall back to the GPU)
# The timing cache makes rebuilds fast and repeatable; it belongs to this device and TensorRT version.
set -euo pipefail
cd "$(dirname "$0")"
TRTEXEC="${TRTEXEC:-/usr/src/tensorrt/bin/trtexec}"
command -v "$TRTEXEC" >/dev/null || TRTEXEC=trtexec
DLA=()
if [[ "${1:-}" == "--useDLACore" ]]; then
    DLA=(--useDLACore="${2:?--useDLACore needs a core number (0 or 1)}" --allowGPUFallback)
elif [[ "${1:-}" == --useDLACore=* ]]; then
    DLA=("$1" --allowGPUFallback)
elif [[ $# -gt 0 ]]; then
    echo "usage: $0 [--useDLACore N]" >&2
    exit 2
fi
if [[ -f /etc/nv_tegra_release ]]; then
    echo "device: $(head -n 1 /etc/nv_tegra_release)"
fi
echo "bundle made for JetPack __JETPACK__ (TensorRT __TENSORRT__); precision __PRECISION__"
"$TRTEXEC" --onnx=model.onnx --saveEngine=model.engine __PRECISION_FLAGS__ \
    --timingCacheFile=timing.cache --builderOptimizationLevel=__OPT_LEVEL__ \
    --memPoolSize=workspace:2048 --skipInference "${DLA[@]}"
echo "wrote model.engine"
