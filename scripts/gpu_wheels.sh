#!/usr/bin/env bash
# Wheels a lent GPU machine lacks (it has torch, onnx, rich, ... but no package index): downloaded
# here into .whl/ (git-ignored) for CPython 3.12 on x86-64 Linux; scripts/gpu_check.sh installs them there.
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES=(
  torch-pruning==1.6.1 pycocotools==2.0.11 onnxruntime==1.32.0
  pydantic==2.13.4 pydantic_core==2.46.4 annotated-types==0.7.0 typing-inspection==0.4.2 typing_extensions==4.16.0
  typer==0.29.2 click==8.5.1 annotated-doc==0.0.7 shellingham==1.5.4
)
PLATFORMS=()
for platform in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64; do
  PLATFORMS+=(--platform "$platform")
done
rm -rf .whl && mkdir .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  "${PLATFORMS[@]}" -d .whl "${PACKAGES[@]}"
du -sh .whl
