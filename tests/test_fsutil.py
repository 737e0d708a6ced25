"""Atomic writes: a file is either the old one or the whole new one, never a half-written temporary; the
folders it needs are made, and a folder that cannot be made is one clear error. File sizes in MB (10^6)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from compressor.core.errors import InputFileError
from compressor.core.files import atomic_path, compressed_size_mb, file_size_mb, make_folder, write_text_atomic


def test_make_folder_makes_the_parents_and_accepts_an_existing_folder(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b" / "c"
    make_folder(folder)
    make_folder(folder)
    assert folder.is_dir()


def test_a_folder_under_a_file_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputFileError) as caught:
        make_folder(tmp_path / "notes.txt" / "sub")
    assert str(caught.value) == f"cannot create the folder {tmp_path / 'notes.txt' / 'sub'}: Not a directory"


def test_write_text_atomic_writes_utf8_into_new_folders_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "new" / "report.md"
    write_text_atomic(target, "δ 0.5 pt\n")
    assert target.read_bytes() == "δ 0.5 pt\n".encode()
    write_text_atomic(str(target), "second")
    assert target.read_text(encoding="utf-8") == "second"
    assert sorted(path.name for path in target.parent.iterdir()) == ["report.md"]  # no temporary left behind


def test_a_failed_block_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "model.onnx"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".model.onnx.") and tmp.suffix == ".tmp"
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert target.read_bytes() == b"old"
    assert [path.name for path in tmp_path.iterdir()] == ["model.onnx"]


def test_an_atomic_file_gets_the_permissions_of_any_new_file(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o640


def test_sizes_are_in_megabytes_of_a_million_bytes(tmp_path: Path) -> None:
    zeros, noise = tmp_path / "zeros.bin", tmp_path / "noise.bin"
    zeros.write_bytes(bytes(2_000_000))
    noise.write_bytes(os.urandom(500_000))
    assert file_size_mb(zeros) == 2.0 and file_size_mb(str(noise)) == 0.5
    assert 0 < compressed_size_mb(zeros) < 0.01  # zeros deflate to almost nothing
    assert 0.5 <= compressed_size_mb(noise) < 0.501  # noise does not deflate (a few bytes of framing on top)
    (tmp_path / "empty").write_bytes(b"")
    assert compressed_size_mb(tmp_path / "empty") == 8e-6  # zlib's 2-byte header, an empty final block, 4-byte sum
