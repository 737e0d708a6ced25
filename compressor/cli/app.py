"""The typer app, its global options, and how errors reach the user: one line and an exit code."""

from __future__ import annotations

import functools
import signal
import sys
import threading
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from compressor.errors import CompressorError, brief
from compressor.models.trust import trust_pickled_checkpoints

app = typer.Typer(
    name="compress",
    help="Model compression and edge deployment: quantize, prune, distill, export, and measure before/after.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


stdout = Console(width=None if sys.stdout.isatty() else 160)  # logs and pipes get whole table rows
stderr = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI job cancelled, a cluster's time limit): unwinds like Ctrl-C, so every file being
    written is either left as it was or replaced whole."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated


_debug = False
INTERNAL_ERROR_EXIT = 3  # a bug of ours, not the user's input (2) nor a compare regression (1)


@app.callback()
def global_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback of an error.")] = False,
    trust_checkpoint: Annotated[
        bool,
        typer.Option("--trust-checkpoint", help="Load full pickles (they can run code): only for files you trust."),
    ] = False,
) -> None:
    """Model compression and edge deployment: quantize, prune, distill, export, and measure before/after."""
    global _debug
    _debug = debug
    trust_pickled_checkpoints(trust_checkpoint)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)


def _error_line(label: str, message: str) -> None:
    stderr.print(Text.assemble((label, "red"), " ".join(message.split())), highlight=False, soft_wrap=True)


def user_errors(command: F) -> F:
    """Turn a CompressorError into one red line on stderr and its exit code; no traceback (--debug shows it)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CompressorError as error:
            if _debug:
                raise
            _error_line("error: ", str(error))  # one line, whatever the underlying library said
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt as interruption:
            what = "terminated" if isinstance(interruption, Terminated) else "interrupted"
            _error_line(f"{what}: ", "no half-written file was left (train, distill and run continue with --resume)")
            raise typer.Exit(143 if isinstance(interruption, Terminated) else 130) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as error:  # a bug: still one line, with the way to the traceback
            if _debug:
                raise
            _error_line("internal error: ", f"{type(error).__name__}: {brief(error)} (rerun with --debug to see where)")
            raise typer.Exit(INTERNAL_ERROR_EXIT) from None

    return wrapper  # type: ignore[return-value]
