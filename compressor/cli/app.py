"""The typer app, its global options, and how errors reach the user: one line and an exit code."""

from __future__ import annotations

import errno
import functools
import signal
import sys
import threading
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from compressor.core.errors import CompressorError, brief
from compressor.models.trust import trust_pickled_checkpoints


class OneLineUsageErrors(TyperGroup):
    """click answers a usage error (an unknown option, a missing argument, a value out of range) with the
    usage text and a boxed message; here it is one red line and exit 2, like every other bad input."""

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as error:  # click's exceptions, as typer vendors them
            context = getattr(error, "ctx", None)
            where = f" (see '{context.command_path} --help')" if context is not None else ""
            _error_line("error: ", error.format_message() + where)  # type: ignore[attr-defined]
            sys.exit(getattr(error, "exit_code", 2))
        sys.exit(code if isinstance(code, int) else 0)  # an int is typer.Exit's code; commands return None


app = typer.Typer(
    cls=OneLineUsageErrors,
    name="compress",
    help="Model compression and edge deployment: quantize, prune, distill, export, and measure before/after.",
    invoke_without_command=True,  # bare `compress` shows the help (global_options), not a usage error
    add_completion=False,
    pretty_exceptions_enable=False,
)


# Output carries user text (paths, model and class names): printed as written, no markup or emoji codes.
_PLAIN = {"markup": False, "emoji": False, "highlight": False}
stdout = Console(width=None if sys.stdout.isatty() else 160, **_PLAIN)  # logs and pipes get whole table rows
stderr = Console(stderr=True, **_PLAIN)
F = TypeVar("F", bound=Callable[..., Any])


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI job cancelled, a cluster's time limit): unwinds like Ctrl-C, so every file being
    written is either left as it was or replaced whole."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated


_debug = False
# The machine, not the input nor our code: a full disk, a read-only or forbidden path. One line, exit 2.
MACHINE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})
INTERNAL_ERROR_EXIT = 3  # a bug of ours, not the user's input (2) nor a compare regression (1)


@app.callback()
def global_options(
    context: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback of an error.")] = False,
    trust_checkpoint: Annotated[
        bool,
        typer.Option("--trust-checkpoint", help="Load full pickles (they can run code): only for files you trust."),
    ] = False,
) -> None:
    """Model compression and edge deployment: quantize, prune, distill, export, and measure before/after."""
    if context.invoked_subcommand is None:
        stdout.print(context.get_help())
        raise typer.Exit(0)
    global _debug
    _debug = debug
    trust_pickled_checkpoints(trust_checkpoint)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)


def _error_line(label: str, message: str) -> None:
    stderr.print(Text.assemble((label, "red"), " ".join(message.split())), soft_wrap=True)


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
            if isinstance(error, OSError) and error.errno in MACHINE_ERRNOS:  # the machine's, not ours
                where = f": {error.filename}" if error.filename else ""
                _error_line("error: ", f"{error.strerror}{where} (no half-written file was left)")
                raise typer.Exit(2) from None
            _error_line("internal error: ", f"{type(error).__name__}: {brief(error)} (rerun with --debug to see where)")
            raise typer.Exit(INTERNAL_ERROR_EXIT) from None

    return wrapper  # type: ignore[return-value]
