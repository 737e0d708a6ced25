"""Progress bars and messages on stderr, so stdout carries only results (tables, JSON)."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from compressor.core.distributed import is_main_process

# Under torchrun only rank 0 speaks: N copies of every progress bar and message help no one. Messages carry
# user text (model paths, class names): no markup and no emoji codes, or `file.py:factory: epoch 1` loses
# ":factory:" to an emoji and a path with [brackets] loses them as a style tag.
console = Console(stderr=True, quiet=not is_main_process(), markup=False, emoji=False, highlight=False)


def make_progress(transient: bool = True) -> Progress:
    """A progress bar; `transient=False` leaves its last state on a terminal. Logs (CI, a pipe) get no bar:
    rich draws it there once, at the end, cut to 80 columns ("2500… 0:0…"); the messages carry the news."""
    return Progress(
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}", markup=False),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
        disable=not console.is_terminal,
    )


def info(message: str) -> None:
    """One line on stderr, never broken at 80 columns (logs are grepped) nor read as markup (paths)."""
    console.print(message, soft_wrap=True)


def warn(message: str) -> None:
    console.print(Text.assemble(("warning:", "yellow"), " ", message), soft_wrap=True)


@contextlib.contextmanager
def quiet_output() -> Iterator[None]:
    """Silence a library that prints diagnostics to stdout and stderr, from C++ too (straight to the file
    descriptors): the exporters, OpenVINO's frontends. Our own error line says what failed."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with open(os.devnull, "w") as devnull:
        for fd in saved:
            os.dup2(devnull.fileno(), fd)
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                yield
        finally:
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
