"""Teacher-student distillation: the loss, and the teacher as the training loop sees it.

Hinton et al.'s knowledge distillation: the student matches the teacher's temperature-softened class
probabilities (scaled by T^2 so its gradients keep their size as T changes) and, with weight
1 - alpha, the labels. Pruning's fine-tuning uses it with the unpruned model as the teacher.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class Teacher:
    module: nn.Module  # in eval mode, never updated
    temperature: float = 4.0
    alpha: float = 0.7  # weight of the distillation term; 1 - alpha weighs the labels


def hinton_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, targets: torch.Tensor, temperature: float, alpha: float
) -> torch.Tensor:
    """alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, y)."""
    soft = F.kl_div(
        F.log_softmax(student_logits / temperature, dim=-1),
        F.log_softmax(teacher_logits / temperature, dim=-1),
        reduction="batchmean",
        log_target=True,
    )
    return alpha * temperature**2 * soft + (1 - alpha) * F.cross_entropy(student_logits, targets)
