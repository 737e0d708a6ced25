"""`compress --trust-checkpoint`, kept apart from the checkpoint loader: the CLI sets it for every
command, and `compress compare` or `--help` should not import torch to do so."""

from __future__ import annotations

_trusted = False


def trust_pickled_checkpoints(trust: bool) -> None:
    """Read full pickles (a whole pickled model, training-script objects). Unpickling runs whatever code
    the file names, so this is only for files the user vouches for."""
    global _trusted
    _trusted = trust


def pickles_trusted() -> bool:
    return _trusted
