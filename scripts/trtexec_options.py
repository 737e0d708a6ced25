"""Write tests/data/trtexec_options.json: the options each trtexec version accepts, read from its source.

    python scripts/trtexec_options.py /path/to/NVIDIA/TensorRT   # a git clone with its release branches

trtexec stops on any option its `samples/common/sampleOptions.cpp` does not parse ("Unknown option"), and
the Jetson bundle's scripts run on boards whose trtexec we cannot run here. The stand-in trtexec of the
tests (tests/standin_trtexec.py) refuses what the real one of that version would, from this table: every
option literal ("--name" or "-h") in that file at the version's release commit.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from pathlib import Path

# TensorRT version -> the commit of NVIDIA/TensorRT its OSS release is (JetPack 5.1.x ships 8.5.2,
# JetPack 6.0 8.6, JetPack 6.1/6.2 10.3).
RELEASES = {
    "8.5": ("ad932f72", "8.5.2.2 release updates (#2536), branch release/8.5"),
    "8.6": ("release/8.6", "branch release/8.6"),
    "10.3": ("release/10.3", "branch release/10.3"),
}
SOURCE = "samples/common/sampleOptions.cpp"
OPTION = re.compile(r'"(--?[A-Za-z][A-Za-z0-9]*)"')
TARGET = Path(__file__).resolve().parent.parent / "tests" / "data" / "trtexec_options.json"


def options_at(repo: Path, ref: str) -> tuple[str, list[str]]:
    """The full commit of `ref` and the option names its sampleOptions.cpp parses."""
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", ref], capture_output=True, text=True, check=True
    ).stdout.strip()
    text = subprocess.run(
        ["git", "-C", str(repo), "show", f"{commit}:{SOURCE}"], capture_output=True, text=True, check=True
    ).stdout
    return commit, sorted(set(OPTION.findall(text)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", type=Path, help="a git clone of github.com/NVIDIA/TensorRT")
    parser.add_argument("--out", type=Path, default=TARGET)
    args = parser.parse_args()
    versions = {}
    for version, (ref, what) in RELEASES.items():
        commit, options = options_at(args.repo, ref)
        versions[version] = {"commit": commit, "ref": what, "source": SOURCE, "options": options}
        print(f"TensorRT {version}: {len(options)} options ({commit[:10]})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(versions, indent=1) + "\n")


if __name__ == "__main__":
    main()
