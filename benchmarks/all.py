"""Every table of the README's Results, one command (hours on 2 cores; reference checkpoints train on
first use and are cached):

    python benchmarks/all.py

Runs each benchmark script with its defaults (gpu.py too where there is a GPU), one after another
(never side by side: each measures speed as ratios within its own runs, and a second benchmark on
the same cores would skew them).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

SCRIPTS = ("backends.py", "quantize.py", "prune.py", "recipes.py", "tuner_noise.py", "hf_image.py")
GPU_SCRIPTS = ("gpu.py", "data_workers.py", "loss_reads.py")  # run only where torch sees a CUDA GPU


def main() -> None:
    here = Path(__file__).resolve().parent
    scripts = SCRIPTS + (GPU_SCRIPTS if torch.cuda.is_available() else ())
    for script in scripts:
        print(f"== {script}", flush=True)
        subprocess.run([sys.executable, str(here / script)], cwd=here, check=True)


if __name__ == "__main__":
    main()
