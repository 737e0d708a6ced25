#!/usr/bin/env bash
# Build model.engine from model.onnx on this Jetson with trtexec (TensorRT __TENSORRT__, JetPack __JETPACK__).
# Usage: ./build_engine.sh [--useDLACore N]   (DLA: layers DLA cannot run fall back to the GPU)
# The timing cache makes rebuilds fast and repeatable; it belongs to this device and TensorRT version.
set -euo pipefail
cd "$(dirname "$0")"
TRTEXEC="${TRTEXEC:-/usr/src/tensorrt/bin/trtexec}"
command -v "$TRTEXEC" >/dev/null || TRTEXEC=trtexec
CORE=""
if [[ "${1:-}" == "--useDLACore" ]]; then
    CORE="${2:-}"
elif [[ "${1:-}" == --useDLACore=* ]]; then
    CORE="${1#--useDLACore=}"
fi
if [[ $# -gt 0 && ! "$CORE" =~ ^[0-9]+$ ]]; then
    echo "usage: $0 [--useDLACore N]   (N: the DLA core, 0 or 1)" >&2
    exit 2
fi
DLA=()
if [[ -n "$CORE" ]]; then
    DLA=(--useDLACore="$CORE" --allowGPUFallback)
fi
if [[ -f /etc/nv_tegra_release ]]; then
    echo "device: $(head -n 1 /etc/nv_tegra_release)"
fi
echo "bundle made for JetPack __JETPACK__ (TensorRT __TENSORRT__); precision __PRECISION__"
"$TRTEXEC" --onnx=model.onnx --saveEngine=model.engine __PRECISION_FLAGS__ \
    --timingCacheFile=timing.cache __LEVEL_FLAG__ \
    --memPoolSize=workspace:2048 __BUILD_ONLY_FLAG__ "${DLA[@]}"
# A loaded engine runs on DLA core 0 unless trtexec is told otherwise: benchmark.sh and check_engine.py
# read the core it was built for from here.
if [[ -n "$CORE" ]]; then
    echo "$CORE" > model.engine.dla-core
else
    rm -f model.engine.dla-core
fi
echo "wrote model.engine${CORE:+ (DLA core $CORE)}"
