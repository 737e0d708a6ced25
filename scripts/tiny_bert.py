"""A small BERT sequence classifier as a local `save_pretrained` directory, with a word-level tokenizer
built from the given texts: what the Hugging Face tests and the pruning benchmark run on, since nothing
may be downloaded here. Needs the `transformers` extra (and `tokenizers`, which it brings)."""

from __future__ import annotations

from pathlib import Path

import tokenizers
import torch
import transformers

from compressor.data.text import hf_tokenizer, words


def save_word_tokenizer(directory: Path, texts: list[str]) -> None:
    """A lower-casing, whitespace-splitting tokenizer over every word of `texts`, with BERT's specials."""
    vocab = {token: i for i, token in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]"])}
    for word in sorted({w for text in texts for w in words(text)}):
        vocab[word] = len(vocab)
    backend = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    backend.normalizer = tokenizers.normalizers.Lowercase()
    backend.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    backend.post_processor = tokenizers.processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    wrapped = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        model_max_length=64,
    )
    wrapped.save_pretrained(directory)


# Per family: its config and model classes, and its names for width, depth, head count and MLP width.
FAMILIES = {
    "bert": (
        transformers.BertConfig,
        transformers.BertForSequenceClassification,
        ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"),
    ),
    "distilbert": (
        transformers.DistilBertConfig,
        transformers.DistilBertForSequenceClassification,
        ("dim", "n_layers", "n_heads", "hidden_dim"),
    ),
}


def build_tiny_bert(
    directory: Path,
    texts: list[str],
    num_labels: int,
    width: int = 32,
    heads: int = 2,
    layers: int = 2,
    family: str = "bert",
) -> Path:
    """An untrained sequence classifier of a FAMILIES family (seed 0; MLP width 2x `width`) and its
    tokenizer in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    save_word_tokenizer(directory, texts)
    config_class, model_class, (width_key, layers_key, heads_key, mlp_key) = FAMILIES[family]
    config = config_class(
        vocab_size=len(hf_tokenizer.__wrapped__(str(directory))),
        max_position_embeddings=64,
        num_labels=num_labels,
        **{width_key: width, layers_key: layers, heads_key: heads, mlp_key: 2 * width},
    )
    torch.manual_seed(0)
    model_class(config).eval().save_pretrained(directory)
    return directory
