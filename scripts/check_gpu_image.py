"""CI: every package Dockerfile.gpu installs resolves from the package index for the image's Python.

Reads Dockerfile.gpu: `ARG IMAGE_PYTHON` (the base image's CPython, which the build itself asserts) and
each `pip install` (its requirements; `.[extras]` stands for this package's dependencies and those
extras, read from pyproject.toml). Then pip resolves all of them together, wheels only, for that Python
on x86-64 Linux (glibc 2.39: Ubuntu 24.04), without installing anything: a pin that cannot install
fails here, not in a user's `docker build`. Also checks pyproject's requires-python admits the image's.

`tensorrt` is left out: the base image's TensorRT Python bindings satisfy the [tensorrt] extra, and
PyPI's `tensorrt` is a source-only meta-package that wheels-only resolution cannot take.

    python scripts/check_gpu_image.py [Dockerfile.gpu]
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

try:
    import tomllib
except ModuleNotFoundError:  # CPython 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
FROM_IMAGE = {"tensorrt"}  # provided by the base image (see the module docstring)
GLIBC = 39  # Ubuntu 24.04, the base of NVIDIA's 25.xx images
PLATFORMS = [f"manylinux_2_{minor}_x86_64" for minor in range(GLIBC, 16, -1)] + [
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
]
# options of `pip install` in the Dockerfile that take a value; an index other than PyPI is refused
VALUED = {"-c", "--constraint", "-r", "--requirement", "--target", "-t", "--prefix", "--root"}
INDEXES = {"-i", "--index-url", "--extra-index-url", "-f", "--find-links"}


def instructions(dockerfile: Path) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    lines = [line for line in dockerfile.read_text().splitlines() if not line.lstrip().startswith("#")]
    return [part.strip() for part in re.sub(r"\\\n", " ", "\n".join(lines)).splitlines() if part.strip()]


def image_python(steps: list[str]) -> str:
    for step in steps:
        if match := re.fullmatch(r"ARG\s+IMAGE_PYTHON=(\d+\.\d+)", step):
            return match.group(1)
    raise SystemExit("error: Dockerfile.gpu declares no `ARG IMAGE_PYTHON=X.Y` (the base image's Python)")


def commands(shell: str) -> list[list[str]]:
    """The words of each simple command in a shell line (split at `&&`, `||`, `;` and `|`, not in quotes)."""
    lexer = shlex.shlex(shell, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    found: list[list[str]] = [[]]
    for token in lexer:
        if token and set(token) <= set(";&|"):
            found.append([])
        else:
            found[-1].append(token)
    return [words for words in found if words]


def pip_installs(steps: list[str]) -> list[str]:
    """The requirement arguments of every `pip install` in a RUN instruction."""
    found: list[str] = []
    for step in steps:
        if not step.startswith("RUN "):
            continue
        for words in commands(step[4:]):
            if "pip" not in words or "install" not in words:
                continue
            args = words[words.index("install") + 1 :]
            skip = False
            for arg in args:
                if skip:
                    skip = False
                elif arg.split("=")[0] in INDEXES:
                    raise SystemExit(
                        f"error: Dockerfile.gpu installs from another index ({shlex.join(words)}); "
                        "this check (and CI) resolves from the default index only"
                    )
                elif arg in VALUED:
                    skip = True
                elif not arg.startswith("-"):
                    found.append(arg)
    return found


def project_requirements(extras: set[str]) -> tuple[list[str], SpecifierSet]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in sorted(extras):
        requirements += project["optional-dependencies"][extra]
    return requirements, SpecifierSet(project.get("requires-python", ""))


def main() -> int:
    dockerfile = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "Dockerfile.gpu"
    steps = instructions(dockerfile)
    python = image_python(steps)
    requirements: list[str] = []
    for arg in pip_installs(steps):
        if match := re.fullmatch(r"\.(?:\[([\w,\-]+)\])?", arg):
            deps, requires_python = project_requirements(set(filter(None, (match.group(1) or "").split(","))))
            if Version(python) not in requires_python:
                print(f"error: the image's Python {python} is outside requires-python {requires_python}")
                return 1
            requirements += deps
        else:
            requirements.append(arg)
    kept = [r for r in requirements if Requirement(r).name.lower() not in FROM_IMAGE]
    with tempfile.TemporaryDirectory(prefix="check-gpu-image-") as scratch:
        report = Path(scratch) / "report.json"
        command = [
            sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
            "--disable-pip-version-check", "--only-binary=:all:", "--implementation", "cp",
            "--python-version", python, *(f"--platform={p}" for p in PLATFORMS),
            "--target", str(Path(scratch) / "target"), "--report", str(report), *kept,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            errors = [line for line in done.stderr.splitlines() if not line.startswith("WARNING: Location")]
            print("\n".join(errors[-15:]))
            print(f"error: {dockerfile.name}'s packages do not install together on CPython {python}, x86-64 Linux")
            return 1
        installed = {
            i["metadata"]["name"].lower(): i["metadata"]["version"] for i in json.loads(report.read_text())["install"]
        }
    shown = ", ".join(
        f"{name} {installed[name]}" for name in ("torch", "torchvision", "onnxruntime-gpu") if name in installed
    )
    print(
        f"{dockerfile.name}: {len(installed)} packages resolve for CPython {python}, x86-64 Linux ({shown}; "
        f"{', '.join(sorted(FROM_IMAGE))} from the base image)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
