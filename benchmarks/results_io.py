"""Writing a benchmark's table and raw reports into benchmarks/results/, shared by every benchmark script."""

from __future__ import annotations

import json
from pathlib import Path

from compressor.fsutil import write_text_atomic

RESULTS_DIR = Path(__file__).resolve().parent / "results"  # wherever the script is run from


def write_results(out: Path, name: str, lines: list[str], records: object) -> None:
    """`name`.md (the table people read) and `name`.json (the measurements behind it), then echo the table."""
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / f"{name}.md", "\n".join(lines) + "\n")
    write_text_atomic(out / f"{name}.json", json.dumps(records, indent=1) + "\n")
    print("\n".join(lines))
