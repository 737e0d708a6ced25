#!/usr/bin/env bash
# Time model.engine with trtexec while tegrastats records power; the power mode and clocks go on record.
# Usage: ./benchmark.sh [SECONDS]   (default 10). Results in benchmark/. Run ./build_engine.sh first.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_TO_RUN="${1:-10}"
TRTEXEC="${TRTEXEC:-/usr/src/tensorrt/bin/trtexec}"
command -v "$TRTEXEC" >/dev/null || TRTEXEC=trtexec
[[ -f model.engine ]] || { echo "no model.engine: run ./build_engine.sh first" >&2; exit 2; }
LOAD=()  # an engine built for a DLA core runs there only when trtexec is told which
if [[ -f model.engine.dla-core ]]; then
    LOAD=(--useDLACore="$(cat model.engine.dla-core)")
fi
mkdir -p benchmark
{
    echo "date: $(date -Iseconds)"
    echo "engine: model.engine, ${LOAD[*]:-on the GPU}"
    echo "nvpmodel: $(nvpmodel -q 2>/dev/null | tr '\n' ' ' || echo unavailable)"
    echo "jetson_clocks:"; (jetson_clocks --show 2>/dev/null || echo "  unavailable (run as root to record clocks)")
} > benchmark/settings.txt
TEGRA_PID=""
if command -v tegrastats >/dev/null; then
    tegrastats --interval 100 --logfile benchmark/tegrastats.log &
    TEGRA_PID=$!
fi
"$TRTEXEC" --loadEngine=model.engine "${LOAD[@]}" --warmUp=1000 --duration="$SECONDS_TO_RUN" --useSpinWait \
    --exportTimes=benchmark/times.json | tee benchmark/trtexec.log
if [[ -n "$TEGRA_PID" ]]; then
    tegrastats --stop 2>/dev/null || kill "$TEGRA_PID"
    # VDD_IN is the whole board's input power on Orin (mW, current/average).
    awk '{for (i = 1; i <= NF; i++) if ($i == "VDD_IN") {split($(i + 1), p, "/"); sum += p[1]; n++}}
         END {if (n) printf "mean board power (VDD_IN): %.0f mW over %d samples\n", sum / n, n}' \
        benchmark/tegrastats.log | tee benchmark/power.txt
fi
# trtexec's summary: Throughput, Latency, Enqueue Time, H2D Latency, GPU Compute Time, D2H Latency, ...
sed -n '/=== Performance summary ===/,$p' benchmark/trtexec.log | grep -E '\] (Throughput|Latency|GPU Compute Time): '
