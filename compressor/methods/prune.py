"""`compress prune`: a torch model in, a pruned (and fine-tuned) torch model out, reloadable without pickle.

Structured pruning runs in `steps`, with the fine-tuning epochs spread between them; without
fine-tuning, BatchNorm statistics are re-estimated for the narrower layers (a few forward passes
that recover much of the accuracy). Unstructured pruning fine-tunes with its masks held, so the
zeros stay zero. `distill` fine-tunes against the unpruned model's outputs instead of the labels alone.
"""

from __future__ import annotations

import copy
import dataclasses
from collections import Counter
from pathlib import Path

from torch import nn

from compressor.core.errors import OptionError
from compressor.core.handle import ModelHandle
from compressor.core.progress import info
from compressor.data.base import DatasetBundle
from compressor.methods.attention_heads import head_split_layout
from compressor.methods.channel_pruning import prune_structured
from compressor.methods.configs import Prune
from compressor.methods.prune_options import PruneOutcome, ignored_modules
from compressor.methods.weight_pruning import prune_unstructured
from compressor.models.architecture_changes import (
    ARCHITECTURE_CHANGES,
    changed_attributes,
    merged_changes,
    shape_attributes,
)
from compressor.models.checkpoint import save_checkpoint
from compressor.models.huggingface import is_hf_model, save_hf_directory
from compressor.tasks import get_task
from compressor.training.distillation import Teacher
from compressor.training.fit import TrainConfig, fit, recalibrate

# Fine-tuning lr, as a multiple of the model's from-scratch recipe: the narrower network has to relearn,
# and a cautious rate leaves it short.
FINETUNE_LR_SCALE = 4.0


def _epochs_for_step(total: int, steps: int, step: int) -> int:
    """`total` fine-tuning epochs spread over `steps` pruning steps, the earlier steps taking the remainder."""
    return total // steps + (1 if step <= total % steps else 0)


def check_prunable(handle: ModelHandle, request: Prune) -> None:
    """Options that this model cannot take, in one line, before any work (export, pruning) starts."""
    assert handle.module is not None
    request.check()
    task = get_task(handle.task)
    if task.scored_against_baseline:
        raise OptionError(f"{handle.name} is a {task.name} model, scored against itself: pruning needs labelled data")
    if request.distill and task.distillation is None:
        raise OptionError(f"--distill: no distillation loss for {task.name} models like {handle.name}")
    torch_attention = any(isinstance(m, nn.MultiheadAttention) for m in handle.module.modules())
    if request.residual_width and not torch_attention:
        raise OptionError(
            f"--residual-width narrows the width of torch's nn.MultiheadAttention layers evenly; {handle.name} has none"
        )
    hf_heads = any(map(head_split_layout, handle.module.modules()))
    if request.whole_heads and not hf_heads and not (torch_attention and request.residual_width):
        why = " (torch's nn.MultiheadAttention ties its heads to the residual width: add --residual-width)"
        raise OptionError(
            "--whole-heads removes heads of Hugging Face attention split by a head count (BERT, RoBERTa, ELECTRA,"
            " ALBERT, DistilBERT, ViT) or, with --residual-width, of torch's nn.MultiheadAttention; "
            f"{handle.name} has none{why if torch_attention else ''}"
        )
    ignored_modules(handle.module, handle.num_classes, request.ignore)  # an unknown --ignore name, with close ones


def _heads_note(outcome: PruneOutcome) -> str:
    """E.g. "; attention heads x head size 4x16 -> 2x16 in 2 modules", for the progress line."""
    changes = Counter(
        f"{before[0]}x{before[1]} -> {after[0]}x{after[1]}" for before, after in outcome.attention_heads.values()
    )
    return "".join(f"; attention heads x head size {change} in {count} modules" for change, count in changes.items())


def prune_model(
    handle: ModelHandle, bundle: DatasetBundle, request: Prune, config: TrainConfig
) -> tuple[ModelHandle, PruneOutcome]:
    """A pruned copy of `handle` (the original is left as it is, for the baseline rows and as teacher)."""
    assert handle.module is not None
    check_prunable(handle, request)
    task = get_task(handle.task)
    module = copy.deepcopy(handle.module).eval()
    before = shape_attributes(module)
    ignored = ignored_modules(module, handle.num_classes, request.ignore)
    train_set, val_set = bundle.split("train", handle.input_spec), bundle.split("val", handle.input_spec)
    teacher = (
        Teacher(copy.deepcopy(handle.module).eval(), objective=task.distillation or "logits")
        if request.distill
        else None
    )

    def finetune(epochs: int, label: str) -> None:
        if epochs == 0:
            recalibrate(module, task, train_set, handle.input_spec, config)
            return
        step_config = dataclasses.replace(config, epochs=epochs)
        fit(module, task, train_set, val_set, handle.input_spec, step_config, description=label, teacher=teacher)

    if request.structured:
        example = task.example_inputs(handle.input_spec, 1)

        def between_steps(step: int) -> None:
            label = f"fine-tune step {step}/{request.steps}" if request.steps > 1 else "fine-tune"
            finetune(_epochs_for_step(request.finetune_epochs, request.steps, step), label)

        outcome = prune_structured(module, example, request, ignored, between_steps)
        info(f"pruned {len(outcome.channels)} layers' channels{_heads_note(outcome)}")
    else:
        outcome = prune_unstructured(module, request, ignored, lambda: finetune(request.finetune_epochs, "fine-tune"))
        info(f"zeroed {outcome.sparsity:.1%} of the weights of {len(outcome.pruned_layers)} layers")
    metadata = {
        **handle.metadata,
        ARCHITECTURE_CHANGES: merged_changes(
            handle.metadata.get(ARCHITECTURE_CHANGES, {}), changed_attributes(before, shape_attributes(module))
        ),
        "pruning": outcome.summary(),
    }
    pruned = dataclasses.replace(handle, module=module.eval(), metadata=metadata)
    return pruned, outcome


def save_pruned(handle: ModelHandle, path: Path) -> ModelHandle:
    """Write the pruned checkpoint (state_dict + architecture changes, no pickled module); a Hugging Face
    model as a model directory like its source, `path` without its suffix, the changes in its record."""
    assert handle.module is not None
    if is_hf_model(handle):
        path = path.with_suffix("")
        save_hf_directory(handle, path, handle.describe())
    else:
        save_checkpoint(path, handle.module.state_dict(), handle.describe())
    return dataclasses.replace(handle, weights=str(path), source=str(path))
