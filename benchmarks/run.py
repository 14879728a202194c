"""Run every CPU benchmark and write benchmarks/results/cpu.json (about 15 min on 2 cores).

    python -m benchmarks.run                 # all of them
    python -m benchmarks.run data_pipeline   # some, merged into the existing results

Prints the issue's targets against the measurements as a markdown table for the README.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

import torch

from benchmarks import callback_cost, cost_growth, data_pipeline, ensemble, loop_overhead
from benchmarks.common import RESULTS, machine, write
from recall.fitting import quiet_lightning

BENCHMARKS: dict[str, Callable[[], dict]] = {
    "loop_overhead": loop_overhead.main,
    "callback_cost": callback_cost.main,
    "data_pipeline": data_pipeline.main,
    "cost_growth": cost_growth.main,
    "ensemble": ensemble.cpu,
}


def targets(results: dict) -> list[tuple[str, str, float, bool]]:
    """(what, target, measured, met) for every target the results hold."""
    rows = []
    if loop := results.get("loop_overhead"):
        rows += [
            ("recall loop / plain loop tokens/s", ">= 0.95", loop["recall_over_plain"]),
            ("MFU, default model", ">= 0.50", loop["mfu"]),
            ("batch sampling share of step", "<= 0.05", loop["sampling_share_of_step"]),
        ]
    if callbacks := results.get("callback_cost"):
        rows.append(
            ("callbacks' share of wall time", "<= 0.10", callbacks["callback_share_of_wall_time"])
        )
    if ensembles := results.get("ensemble"):
        rows.append(
            ("ensemble k=4 / k=1 aggregate tokens/s", ">= 1.2", ensembles["aggregate_speedup_k4"])
        )
    if data := results.get("data_pipeline"):
        million = next(p for p in data["population"] if p["n_individuals"] == 1_000_000)
        rows += [
            ("1M-individual population, s", "<= 10", million["seconds"]),
            ("1M-individual population, MiB", "<= 1024", million["peak_mib"]),
        ]
    return [(what, target, value, _met(target, value)) for what, target, value in rows]


def _met(target: str, value: float) -> bool:
    op, bound = target.split()
    return value >= float(bound) if op == ">=" else value <= float(bound)


def main() -> None:
    quiet_lightning()
    names = sys.argv[1:] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        sys.exit(f"benchmarks: unknown benchmark {unknown[0]!r} (known: {', '.join(BENCHMARKS)})")
    path = RESULTS / "cpu.json"
    results = json.loads(path.read_text()) if path.exists() and sys.argv[1:] else {}
    results["machine"] = machine(torch.device("cpu"))
    for i, name in enumerate(names, 1):
        print(f"benchmarks: [{i}/{len(names)}] {name}", flush=True)
        started = time.perf_counter()
        results[name] = BENCHMARKS[name]()
        results[name]["benchmark_s"] = round(time.perf_counter() - started, 1)
        write("cpu", results)  # after each, so that an interrupted run keeps what it measured
    print(f"benchmarks: wrote {path}\n\n| measure | target | measured | met |\n|---|---|---|---|")
    for what, target, value, met in targets(results):
        print(f"| {what} | {target} | {value:g} | {'yes' if met else 'no'} |")


if __name__ == "__main__":
    main()
