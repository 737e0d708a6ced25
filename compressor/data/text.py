"""Text-classification data: a bundle that keeps its train texts (vocabularies are built from them), and
a dataset that turns texts into fixed-length token ids with either that vocabulary or a Hugging Face
tokenizer, as the model's InputSpec says.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch
from torch.utils.data import Dataset

from compressor.core.errors import DataError, MissingDependencyError, ModelMismatchError
from compressor.core.handle import InputSpec
from compressor.data.base import DatasetBundle

PAD, UNK = "<pad>", "<unk>"  # ids 0 and 1 of every word-level vocabulary
MAX_VOCAB = 20000
MAX_LENGTH = 128  # longest token sequence a built-in text model takes
TEXT_TASK = "text"
EMBEDDING_TASK = "embedding"  # sentence-embedding models: text inputs, scored against the baseline's vectors
_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    """Lower-cased word tokens: the whole of the built-in tokenizer (punctuation is dropped)."""
    return _WORD.findall(text.lower())


def build_vocab(texts: Sequence[str], min_count: int = 2, max_size: int = MAX_VOCAB) -> tuple[str, ...]:
    """Words seen at least `min_count` times in the train texts, most frequent first (ties alphabetical).

    Rare words map to <unk>, so one-off noise does not grow the embedding table.
    """
    counts = Counter(word for text in texts for word in words(text))
    kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    return (PAD, UNK, *kept[: max_size - 2])


def text_input_spec(max_length: int, vocab: tuple[str, ...] | None = None, tokenizer: str | None = None) -> InputSpec:
    """The InputSpec of a text model: (max_length,) int64 token ids; no image normalisation."""
    return InputSpec(shape=(max_length,), mean=(), std=(), dtype="int64", vocab=vocab, tokenizer=tokenizer)


def import_transformers() -> Any:
    """The optional `transformers` package, imported only where a Hugging Face model is used."""
    try:
        import transformers
    except ImportError as error:
        raise MissingDependencyError(
            "Hugging Face models need the transformers extra: pip install 'compressor[transformers]'"
        ) from error
    return transformers


@lru_cache(maxsize=8)
def hf_tokenizer(directory: str) -> Any:
    """The Hugging Face tokenizer saved in `directory` (cached: loading one is not free)."""
    try:
        return import_transformers().AutoTokenizer.from_pretrained(directory, local_files_only=True)
    except (OSError, ValueError) as error:
        raise DataError(f"no usable tokenizer in {directory}: {' '.join(str(error).split())[:200]}") from error


def same_token_ids(a: InputSpec, b: InputSpec) -> bool:
    """Whether two text models read a text as the same token ids: one vocabulary, or tokenizers with one
    vocabulary (two directories may hold copies of one tokenizer), and one sequence length."""
    if a.shape != b.shape:
        return False
    if a.vocab is not None or b.vocab is not None:
        return a.vocab == b.vocab
    if a.tokenizer is None or b.tokenizer is None:
        return False
    return a.tokenizer == b.tokenizer or hf_tokenizer(a.tokenizer).get_vocab() == hf_tokenizer(b.tokenizer).get_vocab()


def describe_tokens(spec: InputSpec) -> str:
    """How a text model reads its input, in words: for a message when two of them disagree."""
    source = (
        f"{len(spec.vocab)} words of its own vocabulary"
        if spec.vocab is not None
        else f"the tokenizer in {spec.tokenizer}"
    )
    return f"{spec.shape[0]} token ids from {source}"


def vocab_size(spec: InputSpec) -> int:
    """How many token ids the model's embedding takes."""
    if spec.vocab is not None:
        return len(spec.vocab)
    if spec.tokenizer is not None:
        return len(hf_tokenizer(spec.tokenizer))
    raise ModelMismatchError("this input spec has neither a vocabulary nor a tokenizer: it is not a text model's")


def encode(texts: Sequence[str], spec: InputSpec) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and attention mask, (N, max_length) int64 each, padded with 0."""
    length = int(spec.shape[0])
    if spec.tokenizer is not None:
        batch = hf_tokenizer(spec.tokenizer)(
            list(texts), padding="max_length", truncation=True, max_length=length, return_tensors="pt"
        )
        return batch["input_ids"].long(), batch["attention_mask"].long()
    if spec.vocab is None:
        raise ModelMismatchError("a text dataset needs a text model (an input spec with a vocabulary or tokenizer)")
    index = {word: i for i, word in enumerate(spec.vocab)}
    unk = index[UNK]
    ids = torch.zeros(len(texts), length, dtype=torch.int64)
    for row, text in enumerate(texts):
        tokens = [index.get(word, unk) for word in words(text)][:length] or [unk]  # never an all-padding row
        ids[row, : len(tokens)] = torch.tensor(tokens)
    return ids, (ids != 0).long()


class EncodedTextDataset(Dataset):
    """Texts already encoded for one model: (input_ids, attention_mask, label) per sample."""

    def __init__(self, texts: Sequence[str], labels: Sequence[int], spec: InputSpec) -> None:
        self.input_ids, self.attention_mask = encode(texts, spec)
        self.labels = torch.tensor(list(labels), dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        return self.input_ids[index], self.attention_mask[index], int(self.labels[index])


@dataclass
class TextSplits:
    """Raw texts and integer labels of the train and val splits."""

    train: tuple[list[str], list[int]]
    val: tuple[list[str], list[int]]


@dataclass
class TextBundle(DatasetBundle):
    """A text-classification dataset; `train_texts` lets a model build its vocabulary from train only."""

    train_texts: tuple[str, ...] = ()

    def longest_train_text(self) -> int:
        return max((len(words(text)) for text in self.train_texts), default=1)


def make_text_bundle(name: str, class_names: list[str], fingerprint: str, splits: TextSplits) -> TextBundle:
    """A TextBundle whose splits are encoded for whichever model asks (its vocabulary or tokenizer)."""
    for split, (texts, _) in (("train", splits.train), ("val", splits.val)):
        if not texts:
            raise DataError(f"{name}: the {split} split holds no texts")

    def split_factory(split: str, spec: InputSpec) -> Dataset:
        texts, labels = splits.train if split == "train" else splits.val
        return EncodedTextDataset(texts, labels, spec)

    return TextBundle(
        name=name,
        task=TEXT_TASK,
        class_names=class_names,
        fingerprint=fingerprint,
        native_size=None,
        split_factory=split_factory,
        train_texts=tuple(splits.train[0]),
    )


def require_text_bundle(bundle: DatasetBundle, model: str, labels_needed: bool = True) -> TextBundle:
    """`bundle` as a text dataset; a classifier also needs its labels (embedding models do without)."""
    if not isinstance(bundle, TextBundle):
        raise ModelMismatchError(
            f"{model} is a text model but {bundle.name} is not a text dataset; pass --data topics or a .jsonl/.csv file"
        )
    if labels_needed and not bundle.class_names:
        raise DataError(f"{bundle.name} has no 'label' field; {model} is a classifier and is scored against labels")
    return bundle
