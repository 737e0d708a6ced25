"""Task plug-ins by name. A new task kind is one module implementing `Task` and one line here."""

from __future__ import annotations

from compressor.core.errors import UnknownNameError
from compressor.tasks.base import MetricAccumulator, Task
from compressor.tasks.classification import ClassificationTask
from compressor.tasks.detection import DetectionTask
from compressor.tasks.embedding import EmbeddingTask
from compressor.tasks.text import TextClassificationTask

_TASKS: dict[str, Task] = {
    "classification": ClassificationTask(),
    "detection": DetectionTask(),
    "text": TextClassificationTask(),
    "embedding": EmbeddingTask(),
}


def get_task(name: str) -> Task:
    if name not in _TASKS:
        raise UnknownNameError(f"unknown task {name!r}; known: {', '.join(_TASKS)}")
    return _TASKS[name]


__all__ = ["MetricAccumulator", "Task", "get_task"]
