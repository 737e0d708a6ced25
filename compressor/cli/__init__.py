"""The `compress` command line. Each command parses flags, calls one library function, prints the result.

`app.py` holds the typer app and its error handling, `options.py` the shared options; the commands live
in `measuring.py`, `compressing.py` and `recipes.py`, and are registered here, in the order `--help`
lists them. The library is imported only by the commands that use it, so `--help`, option errors and
`compress compare` (a CI gate reading two JSON files) answer at once.
"""

from __future__ import annotations

import sys

from compressor.cli import compressing, measuring, recipes
from compressor.cli.app import app

COMMANDS = {
    "models": measuring.models_command,
    "train": measuring.train_command,
    "export": measuring.export_command,
    "bench": measuring.bench_command,
    "quantize": compressing.quantize_command,
    "prune": compressing.prune_command,
    "distill": compressing.distill_command,
    "compare": measuring.compare_command,
    "run": recipes.run_command,
}
for name, command in COMMANDS.items():
    app.command(name)(command)


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())


__all__ = ["COMMANDS", "app", "main"]
