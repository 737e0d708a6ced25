"""Sentence embeddings: token ids and attention mask in, one vector per text out, scored without labels.

An embedding model has no classes to be right about; what compression must keep is the vectors.
So every variant is scored by `cosine`, the mean cosine similarity of its embeddings to the
baseline model's embeddings of the same val texts (1.0 for the baseline itself, up to float noise).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F
from torch.utils.data import Dataset, TensorDataset

from compressor.core.handle import InputSpec
from compressor.data.loader import data_loader
from compressor.runtime.base import Runner
from compressor.tasks.text import TextClassificationTask

# Two embeddings "agree" (export and quantization parity) when their cosine similarity is at least this.
AGREEMENT_COSINE = 0.999


class MeanCosine:
    """Running mean cosine similarity between each output embedding and its target embedding."""

    def __init__(self) -> None:
        self.total = 0.0
        self.count = 0

    def update(self, outputs: list[torch.Tensor], targets: torch.Tensor) -> None:
        self.total += float(F.cosine_similarity(outputs[0].float(), targets.float(), dim=1).sum())
        self.count += int(targets.shape[0])

    def compute(self) -> dict[str, float]:
        return {"cosine": self.total / self.count if self.count else float("nan")}


class EmbeddingTask(TextClassificationTask):
    """Inputs, collation (targets stack like labels) and axes as for text; targets are the baseline's embeddings."""

    name = "embedding"
    primary_metric = "cosine"
    output_names = ("embeddings",)
    scored_against_baseline = True
    distillation = "embedding"

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        return {**super().dynamic_axes(), "embeddings": {0: "batch"}}

    def scoring_set(self, val: Dataset, baseline: Runner, spec: InputSpec) -> Dataset:
        """The val texts with the baseline's embedding of each as its target (labels, if any, are dropped)."""
        loader = data_loader(val, self.eval_batch_size, shuffle=False, collate_fn=self.collate)
        ids, masks, embeddings = [], [], []
        for input_ids, attention_mask, _labels in loader:
            embeddings.append(baseline.run([input_ids, attention_mask])[0].float())
            width = int(spec.shape[0])
            ids.append(F.pad(input_ids, (0, width - input_ids.shape[1])))
            masks.append(F.pad(attention_mask, (0, width - attention_mask.shape[1])))
        return TensorDataset(torch.cat(ids), torch.cat(masks), torch.cat(embeddings))

    def loss(self, outputs: list[torch.Tensor], targets: torch.Tensor) -> torch.Tensor:
        """1 - cosine to the target embedding: what distilling or fine-tuning an embedding model minimises."""
        return (1.0 - F.cosine_similarity(outputs[0].float(), targets.float(), dim=1)).mean()

    def new_metric(self) -> MeanCosine:
        return MeanCosine()

    def agreement(self, reference: list[torch.Tensor], candidate: list[torch.Tensor]) -> float:
        cosine = F.cosine_similarity(reference[0].float(), candidate[0].float(), dim=1)
        return float((cosine >= AGREEMENT_COSINE).float().mean())
