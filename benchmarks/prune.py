"""Pruning on onnxruntime CPU: each case of the README's tables, baseline and pruned measured in one run.

    python benchmarks/prune.py                                  # the main table: results/prune.md
    python benchmarks/prune.py --name prune-bert                # another table (TABLES below)
    python benchmarks/prune.py --cases densenet121-structured-30     # one case: its row of prune.md

Each case is one `compress prune` run (commands.prune): the baseline and the pruned model are measured side
by side in that run, so the speed-up is a ratio of rows timed together on this noisy shared machine.
Reference weights train on first use (minutes per model on 2 cores); the bert and distilbert cases
build and train their models here first. A run of some cases replaces their rows in NAME.md and keeps
the other cases' rows from the runs before.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from results_io import RESULTS_DIR, merged_rows, read_results, table, write_results

from compressor import commands
from compressor.core.environment import collect_environment
from compressor.data import load_dataset
from compressor.methods.configs import Prune
from compressor.methods.speed_tune import relative_speed
from compressor.models.loading import load_model
from compressor.models.onnx_file import read_onnx_handle
from compressor.report.schema import Report, ResultRow
from compressor.tasks import get_task
from compressor.training.fit import TrainConfig

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from tiny_bert import build_tiny_bert  # noqa: E402

HEAD_TO_HEAD_ROUNDS = 5


@dataclass(frozen=True)
class Case:
    model: str
    request: Prune
    weights: str | None = None  # None: the reference checkpoint
    image_size: int | None = None
    data: str = "shapes"
    build: Callable[[Path], str] | None = None  # makes the model in a scratch folder first, returns its path


def trained_classifier(family: str) -> Callable[[Path], str]:
    """A Hugging Face classifier of `family` (bert or distilbert: 2 layers, width 64, 4 heads of 16) built
    and trained here on topics, 8 epochs; built once per scratch folder, so that the cases compare pruning
    one model."""

    def build(folder: Path) -> str:
        trained = folder / f"{family}-topics"
        if trained.exists():
            return str(trained)
        bundle = load_dataset("topics")
        texts = list(bundle.train_texts)
        built = build_tiny_bert(folder / family, texts, bundle.num_classes, width=64, heads=4, family=family)
        config = TrainConfig(lr=1e-3, batch_size=32)
        commands.train_handle(load_model(str(built), bundle), bundle, trained, epochs=8, config=config)
        return str(trained)

    return build


def _hf_case(family: str, sparsity: float, whole_heads: bool = False) -> Case:
    request = Prune(sparsity=sparsity, round_to=4, finetune_epochs=2, whole_heads=whole_heads)
    return Case(family, request, data="topics", build=trained_classifier(family))


CASES = {
    "mobilenet_v2-structured-50": Case("mobilenet_v2", Prune(sparsity=0.5, finetune_epochs=3)),
    "mobilenet_v2-structured-50-224": Case("mobilenet_v2", Prune(sparsity=0.5), "random", 224),
    "resnet18-structured-30": Case("resnet18", Prune(sparsity=0.3, finetune_epochs=3)),
    "densenet121-structured-30": Case("densenet121", Prune(sparsity=0.3, finetune_epochs=3)),
    "mobilenet_v2-unstructured-80": Case("mobilenet_v2", Prune(sparsity=0.8, structured=False, finetune_epochs=3)),
    # Attention models lose MLP width only (their residual width couples every block) unless asked for the
    # residual width too; detectors, backbone only.
    "vit_tiny-structured-50": Case("vit_tiny", Prune(sparsity=0.5, finetune_epochs=3)),
    "vit_tiny-residual-50": Case("vit_tiny", Prune(sparsity=0.5, finetune_epochs=3, residual_width=True)),
    "text_transformer-structured-50": Case("text_transformer", Prune(sparsity=0.5, finetune_epochs=3), data="topics"),
    "text_transformer-residual-50": Case(
        "text_transformer", Prune(sparsity=0.5, finetune_epochs=3, residual_width=True), data="topics"
    ),
    # torch's attention with the residual width: each head narrowed (above) or whole heads removed.
    "vit_tiny-residual-heads-50": Case(
        "vit_tiny", Prune(sparsity=0.5, finetune_epochs=3, residual_width=True, whole_heads=True)
    ),
    "text_transformer-residual-heads-50": Case(
        "text_transformer",
        Prune(sparsity=0.5, finetune_epochs=3, residual_width=True, whole_heads=True),
        data="topics",
    ),
    # Hugging Face models: query/key/value narrowed head by head, or (heads) whole heads removed.
    "bert-structured-40": _hf_case("bert", 0.4),
    "bert-structured-50": _hf_case("bert", 0.5),
    "bert-heads-50": _hf_case("bert", 0.5, whole_heads=True),
    "distilbert-structured-50": _hf_case("distilbert", 0.5),
    "distilbert-heads-50": _hf_case("distilbert", 0.5, whole_heads=True),
    "ssdlite-structured-30": Case(
        "ssdlite320_mobilenet_v3_large", Prune(sparsity=0.3, finetune_epochs=3), data="shapes-det"
    ),
}


# Each results table and the cases it holds.
TABLES = {
    "prune": [
        "mobilenet_v2-structured-50",
        "mobilenet_v2-structured-50-224",
        "resnet18-structured-30",
        "densenet121-structured-30",
        "mobilenet_v2-unstructured-80",
        "vit_tiny-structured-50",
        "text_transformer-structured-50",
        "ssdlite-structured-30",
    ],
    "prune-attention": [
        "vit_tiny-structured-50",
        "vit_tiny-residual-50",
        "text_transformer-structured-50",
        "text_transformer-residual-50",
    ],
    "prune-bert": [
        "bert-structured-40",
        "bert-structured-50",
        "bert-heads-50",
        "distilbert-structured-50",
        "distilbert-heads-50",
    ],
    "prune-text-heads": ["text_transformer-residual-50", "text_transformer-residual-heads-50"],
    "prune-vit-heads": ["vit_tiny-residual-50", "vit_tiny-residual-heads-50"],
}


def _row(report: Report, variant: str, backend: str = "onnxruntime") -> ResultRow:
    return next(r for r in report.results if r.variant == variant and r.backend == backend and r.batch_size == 1)


def head_to_head(outdir: Path, report: Report) -> float:
    """Baseline vs pruned ONNX at batch 1 in alternating rounds (median of 5): steadier than two p50s."""
    inputs = [get_task(report.task).example_inputs(read_onnx_handle(outdir / "baseline.onnx").input_spec, 1)]
    return relative_speed(outdir / "baseline.onnx", outdir / "model.pruned.onnx", inputs, HEAD_TO_HEAD_ROUNDS)


def input_size(outdir: Path) -> str:
    """The baseline ONNX's sample shape as the table shows it: 64x64 for images, 20 tokens for text."""
    shape = read_onnx_handle(outdir / "baseline.onnx").input_spec.shape
    return f"{shape[0]} tokens" if len(shape) == 1 else "x".join(str(d) for d in shape[-2:])


def summarise(name: str, case: Case, report: Report, outdir: Path, speedup: float) -> str:
    base, pruned = _row(report, "baseline"), _row(report, "pruned")
    metric = report.primary_metric
    random = case.weights == "random"
    accuracy = "- (random weights)" if random else f"{base.metrics[metric]:.4f} → {pruned.metrics[metric]:.4f}"
    drop = "-" if random else f"{(base.metrics[metric] - pruned.metrics[metric]) * 100:.2f}"
    extra = report.model_extra or {}
    sparsity = pruned.model_extra.get("sparsity") if pruned.model_extra else None
    zipped = (pruned.model_extra or {}).get("compressed_size_mb")
    cells = [
        name,
        f"{case.data} {input_size(outdir)}",
        metric,
        accuracy,
        drop,
        f"{pruned.params / base.params:.1%}" if pruned.params and base.params else "-",
        f"{pruned.macs / base.macs:.1%}" if pruned.macs and base.macs else "-",
        f"{base.latency_ms.p50 / pruned.latency_ms.p50:.2f}x",
        f"{speedup:.2f}x",
        "-" if sparsity is None else f"{sparsity:.4f}",
        f"{zipped / base.size_mb:.1%}" if zipped else "-",
        str(extra.get("pruning", {}).get("finetune_epochs", "-")),
    ]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", choices=sorted(TABLES), default="prune", help="the table: NAME.md and NAME.json")
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), help="default: every case of the table")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    args.cases = args.cases or TABLES[args.name]
    header = (
        "| case | data | metric | fp32 → pruned | drop (pt) | params kept | MACs kept | onnxruntime speed bs1 (rows) | "
        "onnxruntime speed bs1 (head to head) | sparsity | "
        "compressed / dense file | fine-tune epochs |"
    )
    previous = read_results(args.out, args.name)
    records = dict(previous["records"]) if previous else {}
    rows = {}
    with tempfile.TemporaryDirectory(prefix="compressor-bench-prune-") as scratch:
        for name in args.cases:
            case = CASES[name]
            size = (case.image_size, case.image_size) if case.image_size else None
            max_samples = 64 if case.weights == "random" else None  # speed only: random weights score nothing
            outdir = Path(scratch) / name
            model = case.build(Path(scratch)) if case.build else case.model
            report = commands.prune(
                model,
                outdir,
                case.request,
                data=case.data,
                weights=case.weights,
                image_size=size,
                batch_sizes=[1],
                max_samples=max_samples,
            )
            speedup = head_to_head(outdir, report)
            rows[name] = [summarise(name, case, report, outdir, speedup)]
            records[name] = {
                "head_to_head": {"batch_size": 1, "rounds": HEAD_TO_HEAD_ROUNDS, "speedup": speedup},
                "report": report.model_dump(mode="json", by_alias=True),
            }
            print(rows[name][0], flush=True)
    env = collect_environment()
    note = (
        f"Measured on {env['cpu']} ({env['cpu_count']} cores), torch {env['torch']}, onnxruntime "
        f"{env['onnxruntime']}, CPU provider; the val split of each case's data. Speed: p50 latency ratio of "
        "baseline and pruned ONNX rows timed in the same run, batch 1; head to head: the two files timed in 5 "
        "alternating rounds, median. "
        "Compressed: the pruned ONNX file deflated (zlib 9) over the "
        "dense fp32 file's size."
    )
    lines = table(header, merged_rows(previous, header, rows, TABLES[args.name]), note)
    command = "python benchmarks/prune.py" + ("" if args.name == "prune" else f" --name {args.name}")
    write_results(args.out, args.name, lines, records, command=command)


if __name__ == "__main__":
    main()
