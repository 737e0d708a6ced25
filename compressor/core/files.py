"""Writing files so that a crash or Ctrl-C never leaves a half-written artifact behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from compressor.core.errors import InputFileError


def make_folder(folder: Path) -> None:
    """An output folder and its parents; a path the machine cannot create (under a file, in /proc, on a
    read-only disk) is the user's one-line error, found before anything is written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputFileError(f"cannot create the folder {folder}: {error.strerror}") from None


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `target`; it replaces `target` only if the block succeeds."""
    target = Path(target)
    make_folder(target.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o666 & ~umask)  # mkstemp makes 0600; artifacts get the permissions of any new file
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


# What a failed run may still leave behind: trained weights, a training state, a pipeline record.
WORK_WORTH_KEEPING = ("*.pt", "*.safetensors", "pipeline.json")


@contextlib.contextmanager
def removed_on_failure(folder: str | os.PathLike[str]) -> Iterator[None]:
    """Remove `folder` (and the parents made for it) again if the block fails after making it.

    A failed command then leaves no half-filled OUTDIR to mistake for results, yet training time is never
    thrown away: a folder holding anything in WORK_WORTH_KEEPING stays for --resume or for the user."""
    made = Path(folder).absolute()
    while not made.parent.exists():
        made = made.parent
    existed = made.exists()
    try:
        yield
    except BaseException:
        if not existed and made.is_dir() and not any(any(made.rglob(p)) for p in WORK_WORTH_KEEPING):
            shutil.rmtree(made, ignore_errors=True)
        raise


def write_text_atomic(target: str | os.PathLike[str], text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def file_size_mb(path: str | os.PathLike[str]) -> float:
    return os.path.getsize(path) / 1e6


def compressed_size_mb(path: str | os.PathLike[str]) -> float:
    """The file deflated (zlib level 9, as in a zip): what zeroed weights save when the artifact ships."""
    return len(zlib.compress(Path(path).read_bytes(), 9)) / 1e6
