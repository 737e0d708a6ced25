"""Every reference family through its shipped recipe: the README's "Recipes" table, one command.

    python benchmarks/recipes.py                      # every recipes/*.yaml, reference weights
    python benchmarks/recipes.py --recipes ssdlite-int8 --max-samples 200

Each recipe runs as `compress run` would (into benchmarks/results/recipes/NAME/, resumed if it was
interrupted). Speed is the product of each stage's ratio to its own input, timed side by side within
that stage's run (onnxruntime, CPU, batch 1), so the figures are ratios measured in one run each.
For a recipe with a search, the row is the candidate it picked (or, when none beat the input, the
fastest candidate inside the budget is named and the input kept). A run of some recipes replaces
their rows in recipes.md and keeps the other recipes' rows from the runs before.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from results_io import RESULTS_DIR, merged_rows, read_results, table, write_results

from compressor.core.environment import collect_environment
from compressor.pipeline.chain import ChainStep
from compressor.pipeline.recipe import load_recipe
from compressor.pipeline.run import PIPELINE_FILE, run_recipe
from compressor.pipeline.search import score_chain

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
BACKEND, DEVICE, BATCH = "onnxruntime", "cpu", 1


def _chains(root: Path) -> list[tuple[str, list[ChainStep]]]:
    """The stages' chain, and each search candidate's chain after it (the picked one marked)."""
    record = json.loads((root / PIPELINE_FILE).read_text())
    stages = [ChainStep(**step) for step in record["stages"]]
    search = record.get("search") or {}
    chains = [("stages", stages)] if any(step.report for step in stages) else []
    for candidate in search.get("candidates", []):
        if candidate.get("status") == "done":
            mark = " (picked)" if candidate["name"] == search.get("best") else ""
            chains.append((f"search: {candidate['name']}{mark}", stages + [ChainStep(**s) for s in candidate["steps"]]))
    return chains


def summarise(name: str, root: Path) -> list[str]:
    lines = []
    for label, steps in _chains(root):
        score = score_chain(root, [s for s in steps if s.report], BACKEND, DEVICE, BATCH)
        chain = " -> ".join(step.kind for step in steps)
        lines.append(
            f"| {name} | {label}: {chain} | {score['metric_name']} {score['reference_metric']:.4f} | "
            f"{score['metric']:.4f} | "
            f"{score['accuracy_drop']:+.2f} | {score['speedup']:.2f}x | {score['input_size_mb']:.2f} -> "
            f"{score['size_mb']:.2f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="*", default=[p.stem for p in sorted(RECIPES.glob("*.yaml"))])
    parser.add_argument("--max-samples", type=int, default=None, help="Score at most this many val samples.")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    overrides = [f"max_samples={args.max_samples}"] if args.max_samples else []
    header = "| recipe | chain | metric before | after | drop (pt) | speed (ORT CPU, batch 1) | size MB |"
    previous = read_results(args.out, "recipes")
    records = dict(previous["records"]["recipes"]) if previous else {}
    environment = collect_environment()
    rows = {}
    for name in args.recipes:
        root = args.out / "recipes" / name
        recipe = load_recipe(RECIPES / f"{name}.yaml", overrides)
        run_recipe(recipe, root, force=True, resume=(root / PIPELINE_FILE).exists())
        rows[name] = summarise(name, root)
        records[name] = {"rows": rows[name], "max_samples": args.max_samples, "environment": environment}
    shipped = [path.stem for path in sorted(RECIPES.glob("*.yaml"))]
    note = f"Measured on {environment['cpu']}, torch {environment['torch']}, onnxruntime {environment['onnxruntime']}."
    lines = table(header, merged_rows(previous, header, rows, shipped), note)
    write_results(args.out, "recipes", lines, {"recipes": records}, command="python benchmarks/recipes.py")


if __name__ == "__main__":
    main()
