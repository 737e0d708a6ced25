"""User-facing errors. The CLI prints their message as one line and exits with `exit_code`.

Library code raises these for anything the user can fix (a path, a name, a file's contents), so
that no traceback reaches someone who only mistyped a file name.
"""

from __future__ import annotations


def brief(error: BaseException | str, limit: int = 200) -> str:
    """The first non-empty line of an underlying error, shortened: enough to act on, never a dump."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class CompressorError(Exception):
    """Base class: a problem the user can act on. The message says what, where and what to do."""

    exit_code = 2


class UnknownNameError(CompressorError):
    """An unknown model, dataset, backend, precision or format name."""


class InputFileError(CompressorError):
    """A missing, unreadable or corrupt file, or a file of the wrong kind."""


class DataError(CompressorError):
    """A dataset that cannot be used: no images, one class, wrong layout."""


class ModelMismatchError(CompressorError):
    """Weights or data that do not fit the model (shapes, class counts, input size)."""


class ExportError(CompressorError):
    """The exporter could not convert the model; the message names the operator when known."""


class MissingDependencyError(CompressorError):
    """An optional package is needed; the message names the extra to install."""


class BackendUnavailableError(CompressorError):
    """A requested backend or device is not available on this machine."""


class OptionError(CompressorError):
    """Options that contradict each other or lie out of range (e.g. both --threshold and --sparsity)."""
