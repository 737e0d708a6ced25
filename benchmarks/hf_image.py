"""A Hugging Face image classifier directory through compress: trained here, then int8 and pruned.

    python benchmarks/hf_image.py            # writes results/hf-image.md and .json

Builds a small `ResNetForImageClassification` (4 stages of basic blocks, 32-256 channels) with a
ConvNeXt image processor at 64x64 (shortest edge, ImageNet statistics), as `save_pretrained` writes
them, trains it on `shapes` (`commands.train_handle`, which writes a model directory), then runs
`compress quantize --precision int8` and `compress prune --sparsity 0.5 --finetune-epochs 2` on that
directory. Each command measures its baseline and its result side by side in one run; the speed
columns are their head-to-head verdicts on onnxruntime, batch 1 and 16.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import transformers
from results_io import RESULTS_DIR, write_results

from compressor import commands
from compressor.core.environment import collect_environment
from compressor.core.handle import IMAGENET_MEAN, IMAGENET_STD
from compressor.data import load_dataset
from compressor.methods.configs import Prune
from compressor.models.loading import load_model
from compressor.report.schema import Report
from compressor.training.fit import TrainConfig

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from tiny_hf_image import save_classifier  # noqa: E402

EPOCHS = 8
BATCH_SIZES = [1, 16]


def trained_resnet(folder: Path) -> str:
    """The ResNet directory, trained EPOCHS epochs on shapes."""
    config = transformers.ResNetConfig(
        embedding_size=32, hidden_sizes=[32, 64, 128, 256], depths=[1, 1, 1, 1], layer_type="basic", num_labels=10
    )
    processor = transformers.ConvNextImageProcessor(
        size={"shortest_edge": 64}, image_mean=list(IMAGENET_MEAN), image_std=list(IMAGENET_STD)
    )
    built = save_classifier(folder / "resnet", config, processor)
    bundle = load_dataset("shapes")
    trained = folder / "resnet-shapes"
    commands.train_handle(load_model(str(built), bundle), bundle, trained, epochs=EPOCHS, config=TrainConfig())
    return str(trained)


def rows(command: str, report: Report, variant: str) -> list[str]:
    """The variant's row beside the baseline's: metric, ONNX size, and the head-to-head speed-ups."""
    onnx = {r.variant: r for r in report.results if r.backend == "onnxruntime" and r.batch_size == 1}
    verdicts = (report.model_extra or {}).get("verdicts", [])
    speed = {
        v["batch_size"]: f"{v['speedup']:.2f}x"
        for v in verdicts
        if v["variant"] == variant and v["backend"] == "onnxruntime"
    }
    metric = report.primary_metric
    base, new = onnx["baseline"], onnx[variant]
    accuracy = f"{base.metrics[metric]:.4f} → {new.metrics[metric]:.4f}"
    size = f"{base.size_mb:.2f} → {new.size_mb:.2f}"
    return [f"| {command} | {accuracy} | {size} | {speed.get(1, '-')} | {speed.get(16, '-')} |"]


def main() -> None:
    lines = [
        "| command on the directory | top1 fp32 → result | ONNX MB | speed vs fp32 bs1 (head to head) "
        "| speed vs fp32 bs16 (head to head) |",
        "|---|---|---|---|---|",
    ]
    records = {}
    with tempfile.TemporaryDirectory(prefix="compressor-bench-hf-image-") as scratch:
        model = trained_resnet(Path(scratch))
        quantized = commands.quantize(model, Path(scratch) / "q", "int8", data="shapes", batch_sizes=BATCH_SIZES)
        lines += rows("quantize --precision int8", quantized, "int8")
        pruned = commands.prune(
            model,
            Path(scratch) / "p",
            Prune(sparsity=0.5, finetune_epochs=2),
            data="shapes",
            batch_sizes=BATCH_SIZES,
        )
        lines += rows("prune --sparsity 0.5 --finetune-epochs 2", pruned, "pruned")
        for name, report in (("quantize", quantized), ("prune", pruned)):
            records[name] = report.model_dump(mode="json", by_alias=True)
    env = collect_environment()
    lines += [
        "",
        f"Measured on {env['cpu']} ({env['cpu_count']} cores), torch {env['torch']}, onnxruntime "
        f"{env['onnxruntime']}, transformers {transformers.__version__}; a ResNetForImageClassification "
        f"directory trained {EPOCHS} epochs on shapes (64x64), its 2,000 val images. Speed: each command's "
        "verdict, the two ONNX files timed in alternating rounds (median).",
    ]
    write_results(RESULTS_DIR, "hf-image", lines, records)


if __name__ == "__main__":
    main()
