"""A small Transformer-encoder text classifier, and the InputSpec it builds from a text dataset."""

from __future__ import annotations

import torch
from torch import nn

from compressor.core.errors import ModelMismatchError
from compressor.core.handle import InputSpec
from compressor.data.base import DatasetBundle
from compressor.data.text import MAX_LENGTH, build_vocab, require_text_bundle, text_input_spec


class TextTransformer(nn.Module):
    """Token + learned position embeddings, a pre-norm TransformerEncoder, mean-pool over the mask, linear head."""

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        max_length: int,
        d_model: int = 64,
        heads: int = 4,
        layers: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=0)
        # An embedding indexed by arange(length), not a sliced parameter: no guard ties the sequence
        # length to max_length, so the exported graph keeps a free sequence axis.
        self.position = nn.Embedding(max_length, d_model)
        layer = nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        hidden = self.embed(input_ids) + self.position(positions).unsqueeze(0)
        hidden = self.encoder(hidden, src_key_padding_mask=attention_mask == 0)
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        return self.head(self.norm(pooled))


def text_transformer_spec(bundle: DatasetBundle, image_size: tuple[int, int] | None) -> InputSpec:
    """Vocabulary from the train texts only; sequences as long as the longest train text (at most 128)."""
    if image_size is not None:
        raise ModelMismatchError("--image-size applies to image models, not to text_transformer")
    text = require_text_bundle(bundle, "text_transformer")
    return text_input_spec(min(MAX_LENGTH, text.longest_train_text()), vocab=build_vocab(text.train_texts))


def text_transformer(num_classes: int, spec: InputSpec) -> nn.Module:
    if spec.vocab is None:
        raise ModelMismatchError("text_transformer needs a word-level vocabulary in its input spec")
    return TextTransformer(len(spec.vocab), num_classes, int(spec.shape[0]))
