"""Benchmark: the default run (the README's `make train`) with and without callbacks.

    python benchmarks/default_run.py     # about 8 minutes on 2 CPU cores

Runs the default config twice, identical but for `callbacks=default` vs `callbacks=none`,
keeps both run folders under runs/benchmark/, and writes wall times, throughput and the
callbacks' share of wall time to benchmarks/results/default_run.json.
"""

from __future__ import annotations

import json
import platform
import shutil
import time
from datetime import date
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from recall.config import CONFIG_DIR
from recall.train import train

RESULTS = Path(__file__).parent / "results" / "default_run.json"
RUNS = Path("runs/benchmark")


def timed_run(label: str, callbacks: str) -> dict:
    shutil.rmtree(RUNS / label, ignore_errors=True)
    overrides = [f"run_dir={RUNS / label}", f"callbacks={callbacks}", "progress_refresh=0"]
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR)):
        cfg = compose("train", overrides=overrides)
    started = time.perf_counter()
    run = train(cfg)
    total = time.perf_counter() - started
    phases = json.loads(run.phases.read_text())
    return {
        "run": str(run.path),
        "total_wall_time_s": round(total, 1),
        "fit_wall_time_s": phases["wall_time_s"],
        "tokens_per_s": phases["tokens_per_s"],
        "final_attr_acc": round(phases["final_attr_acc"], 4),
        "statistics_end_step": phases["statistics_end_step"],
        "knowledge_onset_step": phases["knowledge_onset_step"],
    }


def main() -> None:
    with_callbacks = timed_run("with_callbacks", "default")
    without = timed_run("without_callbacks", "none")
    overhead = with_callbacks["fit_wall_time_s"] / without["fit_wall_time_s"] - 1
    result = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "torch": torch.__version__,
        "with_callbacks": with_callbacks,
        "without_callbacks": without,
        "callback_overhead": round(overhead, 4),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
