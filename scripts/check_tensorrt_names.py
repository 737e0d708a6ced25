"""Check every TensorRT name our builder and runner use against the compiled Python bindings of several
TensorRT releases, without a GPU or TensorRT's libraries.

    python scripts/check_tensorrt_names.py                  # 10.3 (JetPack 6), 10.16, 11.4
    python scripts/check_tensorrt_names.py --versions 10.3.0

The names are read from the code (attributes of `trt` and of the objects TensorRT hands back: builder,
config, parser, profile, engine, context, runtime, and the methods of our IOutputAllocator). Each
release's `tensorrt-cuXX-bindings` wheel (about 1 MB, from the package index) holds the bindings'
shared object, whose string table carries every name pybind11 registers. A name missing from a release
fails the check, unless the code probes for it (OPTIONAL). This checks spelling and presence, not
signatures or behaviour: real engines have still to run on a GPU with TensorRT.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCES = [REPO / "compressor/exporters/tensorrt.py", REPO / "compressor/runtime/tensorrt_runner.py"]
# Variables that hold TensorRT objects in SOURCES.
TRT_ROOTS = {"trt", "builder", "config", "parser", "profile", "self.context", "self.engine", "self.runtime"}
# The wheel of each release checked by default: the CUDA 12 bindings up to 10.x, CUDA 13 for 11.x.
RELEASES = {
    "10.3.0": "tensorrt-cu12-bindings",
    "10.16.1.11": "tensorrt-cu12-bindings",
    "11.4.0.106": "tensorrt-cu13-bindings",
}
# Names the code asks for with hasattr before use, and why a release may lack them.
OPTIONAL = {
    "FP16": "TensorRT 11 has no precision flags: uses_strong_typing() builds strongly typed instead",
    "INT8": "TensorRT 11 has no precision flags: uses_strong_typing() builds strongly typed instead",
}


def _chain(node: ast.Attribute) -> list[str]:
    parts = [node.attr]
    base = node.value
    while isinstance(base, ast.Attribute):
        parts.append(base.attr)
        base = base.value
    if isinstance(base, ast.Name):
        parts.append(base.id)
    return list(reversed(parts))


def used_names(sources: list[Path]) -> set[str]:
    """Every TensorRT attribute and method name the sources use."""
    names: set[str] = set()
    for source in sources:
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                parts = _chain(node)
                for cut in (1, 2):
                    if ".".join(parts[:cut]) in TRT_ROOTS:
                        names.update(parts[cut:])
            if isinstance(node, ast.ClassDef) and any("IOutputAllocator" in ast.unparse(b) for b in node.bases):
                # TensorRT's callbacks, which it calls by name with the tensor's name first.
                names.update(
                    f.name
                    for f in node.body
                    if isinstance(f, ast.FunctionDef) and any(a.arg == "tensor_name" for a in f.args.args)
                )
    return {name for name in names if not name.startswith("__")}


def bindings(version: str, wheel: str, folder: Path) -> bytes:
    """The bindings' shared object of one release, downloaded from the package index."""
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", f"{wheel}=={version}"]
    command += ["--python-version", "3.11", "--only-binary=:all:", "-d", str(folder)]
    command += ["--platform", "manylinux_2_17_x86_64", "--platform", "manylinux_2_28_x86_64"]
    subprocess.run(command, check=True)
    downloaded = next(folder.glob(f"{wheel.replace('-', '_')}-{version}-*.whl"))
    with zipfile.ZipFile(downloaded) as archive:
        shared = next(name for name in archive.namelist() if name.endswith(".so"))
        return archive.read(shared)


def missing_names(names: set[str], shared_object: bytes) -> list[str]:
    return sorted(name for name in names if name.encode() + b"\0" not in shared_object)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", nargs="+", default=list(RELEASES), choices=list(RELEASES))
    args = parser.parse_args()
    names = used_names(SOURCES)
    print(f"{len(names)} TensorRT names used: {', '.join(sorted(names))}")
    failed = False
    with tempfile.TemporaryDirectory() as scratch:
        for version in args.versions:
            missing = missing_names(names, bindings(version, RELEASES[version], Path(scratch)))
            required = [name for name in missing if name not in OPTIONAL]
            optional = [f"{name} ({OPTIONAL[name]})" for name in missing if name in OPTIONAL]
            print(f"TensorRT {version}: {'missing ' + ', '.join(required) if required else 'all found'}")
            if optional:
                print(f"  probed and absent: {'; '.join(optional)}")
            failed = failed or bool(required)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
