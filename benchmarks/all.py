"""Every table of the README's Results, one command (hours on 2 cores; reference checkpoints train on
first use and are cached):

    python benchmarks/all.py

Runs each benchmark script with its defaults, one after another (never side by side: each measures
speed as ratios within its own runs, and a second benchmark on the same cores would skew them).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPTS = ("backends.py", "quantize.py", "prune.py", "recipes.py")


def main() -> None:
    here = Path(__file__).resolve().parent
    for script in SCRIPTS:
        print(f"== {script}", flush=True)
        subprocess.run([sys.executable, str(here / script)], cwd=here, check=True)


if __name__ == "__main__":
    main()
