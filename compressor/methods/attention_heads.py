"""Hugging Face attention whose heads structured pruning can narrow or remove.

These modules split their query/key/value projections into heads with plain attributes (a head count
and a head size, read by the forward), which torch-pruning does not know about: after it changes the
projections' width, `sync_heads` sets them again. A class not listed here keeps its projections whole,
since its forward would split a narrowed width into the wrong heads (or fail).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class HeadSplitLayout:
    """Where one family of attention modules keeps its projections and head attributes."""

    projections: tuple[str, str, str]  # query, key, value (nn.Linear): the family is recognised by them
    heads: str  # head count
    head_size: str
    total: str | None  # the heads' joint width, where the module keeps one

    @property
    def query(self) -> str:
        return self.projections[0]


LAYOUTS = (
    # BERT, RoBERTa, XLM-RoBERTa, CamemBERT, ELECTRA, ALBERT: their forward reshapes to (-1, head size).
    HeadSplitLayout(("query", "key", "value"), "num_attention_heads", "attention_head_size", "all_head_size"),
    # DistilBERT: the same, under other names.
    HeadSplitLayout(("q_lin", "k_lin", "v_lin"), "n_heads", "attention_head_size", None),
    # ViT (transformers 5): q_proj/k_proj/v_proj, reshaped to (-1, head_dim).
    HeadSplitLayout(("q_proj", "k_proj", "v_proj"), "num_attention_heads", "head_dim", None),
)


def head_split_layout(module: nn.Module) -> HeadSplitLayout | None:
    """The module's layout, if it is attention of a listed family whose query, key and value are equally
    wide (grouped-query attention, whose key and value have fewer heads, is not split this way)."""
    for layout in LAYOUTS:
        projections = [getattr(module, name, None) for name in layout.projections]
        names = [name for name in (layout.heads, layout.head_size, layout.total) if name is not None]
        if (
            all(isinstance(projection, nn.Linear) for projection in projections)
            and len({projection.out_features for projection in projections}) == 1
            and all(isinstance(getattr(module, name, None), int) for name in names)
        ):
            return layout
    return None


def head_count(module: nn.Module) -> int:
    layout = head_split_layout(module)
    assert layout is not None
    return getattr(module, layout.heads)


def head_shape(module: nn.Module) -> tuple[int, int] | None:
    """(head count, head size) of torch's own attention or a listed family's; None for other modules."""
    if isinstance(module, nn.MultiheadAttention):
        return module.num_heads, module.head_dim
    layout = head_split_layout(module)
    return None if layout is None else (getattr(module, layout.heads), getattr(module, layout.head_size))


def sync_heads(module: nn.Module, layout: HeadSplitLayout, whole_heads: bool) -> None:
    """Set the head attributes from the pruned query width: the head count when whole heads went, else the
    head size, with the softmax `scaling` that follows it (1/sqrt(head size), as torch's attention and
    transformers before 5 compute it), so the pruned model means the same whichever version loads it."""
    width = getattr(module, layout.query).out_features
    if layout.total is not None:
        setattr(module, layout.total, width)
    if whole_heads:
        setattr(module, layout.heads, width // getattr(module, layout.head_size))
        return
    setattr(module, layout.head_size, width // getattr(module, layout.heads))
    if isinstance(getattr(module, "scaling", None), float):  # transformers 5 keeps it; older versions compute it
        module.scaling = getattr(module, layout.head_size) ** -0.5
