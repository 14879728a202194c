"""Benchmark: wall time and throughput of the default run (the README's `make train`).

python benchmarks/default_run.py            # writes benchmarks/results/default_run.json
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from recall.config import CONFIG_DIR
from recall.train import train

RESULTS = Path(__file__).parent / "results" / "default_run.json"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR)):
            cfg = compose("train", overrides=[f"run_dir={tmp}/run", "progress_refresh=0"])
        started = time.perf_counter()
        run = train(cfg)
        total = time.perf_counter() - started
        phases = json.loads(run.phases.read_text())
    result = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "torch": torch.__version__,
        "total_wall_time_s": round(total, 1),
        "training_wall_time_s": phases["wall_time_s"],
        "tokens_per_s": phases["tokens_per_s"],
        "steps": phases["final_step"],
        "final_attr_acc": round(phases["final_attr_acc"], 4),
        "statistics_end_step": phases["statistics_end_step"],
        "knowledge_onset_step": phases["knowledge_onset_step"],
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
