"""Mutation testing of the pure decision code: does each small change to it make a test fail?

    pip install -e '.[dev]'
    python scripts/mutation.py            # a fresh run, then the score; exit 1 if over 10% survive
    python scripts/mutation.py --summary  # the score of the last run, without running again

mutmut (configured in pyproject's [tool.mutmut]) copies `compressor/` into `mutants/`, rewrites the files listed
there, and runs the tests that reach each changed function. SCOPE below says which functions count: the gate's
comparison, the speed verdicts, the Pareto front, the head-to-head rounds, atomic writes, and the task metrics
(not training, augmentation or data loading). Not run in CI: see docs/mutation.md.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_SURVIVING = 0.10  # of the mutants in SCOPE

# mutmut's names: module.x_function, module.xǁClassǁmethod, then __mutmut_<n>
SCOPE = (
    "compressor.report.compare.*",
    "compressor.report.verdict.*",
    "compressor.report.pareto.*",
    "compressor.measurement.head_to_head.*",
    "compressor.core.files.*",
    "compressor.tasks.base.xǁTaskBaseǁparity__mutmut_*",
    "compressor.tasks.classification.xǁTopKAccuracyǁ*",
    "compressor.tasks.classification.xǁClassificationTaskǁagreement__mutmut_*",
    "compressor.tasks.text.xǁAccuracyǁ*",
    "compressor.tasks.embedding.xǁMeanCosineǁ*",
    "compressor.tasks.embedding.xǁEmbeddingTaskǁagreement__mutmut_*",
    "compressor.tasks.detection.x__valid__mutmut_*",
    "compressor.tasks.detection.x__greedy_matches__mutmut_*",
    "compressor.tasks.detection.xǁCocoDetectionMetricǁ*",
    "compressor.tasks.detection.xǁDetectionTaskǁ_matched__mutmut_*",
    "compressor.tasks.detection.xǁDetectionTaskǁagreement__mutmut_*",
    "compressor.tasks.detection.xǁDetectionTaskǁparity__mutmut_*",
)

# mutmut's exit codes per mutant (mutmut.stats.status_by_exit_code), as this summary groups them
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped", 37: "killed"}
TIMEOUTS = {-24, 24, 152, 255, 36}


def status(exit_code: int | None) -> str:
    if exit_code is None:
        return "not run"
    return "timeout" if exit_code in TIMEOUTS else STATUS.get(exit_code, "suspicious")


def in_scope(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in SCOPE)


def run(max_children: int) -> None:
    """A fresh mutmut run over SCOPE (mutmut keeps earlier results in mutants/: they could be stale)."""
    mutmut = shutil.which("mutmut")
    if mutmut is None:
        sys.exit("mutmut is not installed: pip install -e '.[dev]'")
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    (ROOT / "mutants").mkdir()
    # each mutant's tests run in a process of their own, max_children at a time: one thread each
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTEST_ADDOPTS": ""}
    log = ROOT / "mutants" / "run.log"
    with log.open("w") as out:
        done = subprocess.run(
            [mutmut, "run", "--max-children", str(max_children), *SCOPE], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    if done.returncode != 0:
        print(log.read_text(errors="replace")[-4000:])
        sys.exit(f"mutmut run failed (exit {done.returncode}); its output is in {log}")


def results() -> dict[str, int | None]:
    """Every in-scope mutant's exit code, from mutmut's per-file records."""
    codes: dict[str, int | None] = {}
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if in_scope(name):
                codes[name] = code
    return codes


def summary(codes: dict[str, int | None]) -> float:
    """Print killed / total per module and the survivors; return the surviving fraction."""
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    left = []
    for name, code in sorted(codes.items()):
        module = name.split(".x", 1)[0]
        by_module[module][status(code)] += 1
        if status(code) in ("survived", "no tests", "not run", "suspicious"):
            left.append(f"{status(code)}: {name}")
    print(f"{'module':<34} {'killed':>7} {'timeout':>7} {'survived':>8} {'no tests':>8} {'total':>6}")
    total = Counter()
    for module, counts in sorted(by_module.items()):
        total.update(counts)
        row = [counts[key] for key in ("killed", "timeout", "survived", "no tests")]
        print(f"{module:<34} {row[0]:>7} {row[1]:>7} {row[2]:>8} {row[3]:>8} {sum(counts.values()):>6}")
    count = sum(total.values())
    undetected = count - total["killed"] - total["timeout"] - total["skipped"]
    fraction = undetected / count if count else 1.0
    print(f"\nscore: {count - undetected} of {count} mutants killed, {undetected} left ({fraction:.1%})")
    if left:
        print("\nleft (see one with `mutmut show NAME`):")
        print("\n".join(f"  {line}" for line in left))
    return fraction


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--summary", action="store_true", help="only summarise the last run in mutants/")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2, help="mutants tested at once")
    args = parser.parse_args()
    if not args.summary:
        run(args.max_children)
    codes = results()
    if not codes:
        sys.exit("no mutation results in mutants/: run without --summary first")
    if summary(codes) > MAX_SURVIVING:
        sys.exit(f"more than {MAX_SURVIVING:.0%} of the mutants survived")


if __name__ == "__main__":
    main()
