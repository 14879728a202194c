"""Settings for the default run, each over three seeds: which one shows all three phases
plainly and learns its facts (issue 18, part 1)? On a GPU, where the whole sweep takes
about 11 minutes of one H200 with 12 runs at a time; its curves are close to the CPU's.

    python -m benchmarks.default_run_sweep [SETTING ...]   # all settings, or these

Each setting is the default run (every callback on) with a few overrides. Those of the
default's shape (2 layers, d 128) train on its 83k biographies (1300 steps x 64), so that
they cost about its CPU time; wider or deeper 2- and 3-layer models train for 1000 steps.
Each run is judged as the three_phases finding reads a plateau, against part 1's targets:
onset >= 3x the statistics end, every evaluation between them flat, final seen accuracy
>= 0.6.

Writes benchmarks/results/default_run_sweep.json after every run (a sweep stopped early
keeps what it finished), merged into what is there, one row per setting and seed, each
with the machine it ran on.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from benchmarks.common import RESULTS, machine
from recall.findings.three_phases import plateau
from recall.runs import RunFolder

SEEDS = (0, 1, 2)
PARALLEL = 12  # runs at a time: one small model leaves most of a GPU idle
ROOT = Path("/tmp/default_run_sweep")
OUT = RESULTS / "default_run_sweep.json"
ONSET_RATIO, FINAL_ACC = 3.0, 0.6  # part 1's targets

B48 = ["data.batch_size=48", "trainer.max_steps=1730"]  # the default's samples at batch 48
H8 = ["model.n_head=8"]
L1_D192 = ["model.n_layer=1", "model.d_model=192", *H8]
SETTINGS: dict[str, list[str]] = {
    "base": [],
    "decay1000": ["optim.decay_steps=1000"],
    "decayall": ["optim.decay_steps=null"],
    "lr4e-3_d800": ["optim.lr=4e-3", "optim.decay_steps=800"],
    "wd0_d800": ["optim.weight_decay=0", "optim.decay_steps=800"],
    "b48_1730_d700": [*B48, "optim.decay_steps=700"],
    "b48_lr2.5_d700": [*B48, "optim.decay_steps=700", "optim.lr=2.5e-3"],
    "b32_2600_lr2_d1000": [
        "data.batch_size=32",
        "trainer.max_steps=2600",
        "optim.decay_steps=1000",
        "optim.lr=2e-3",
    ],
    "b32_2600_lr1.5_d1000": [
        "data.batch_size=32",
        "trainer.max_steps=2600",
        "optim.decay_steps=1000",
        "optim.lr=1.5e-3",
    ],
    "heads8": H8,
    "heads2": ["model.n_head=2"],
    "minlr0_d800": ["optim.min_lr_ratio=0.0", "optim.decay_steps=800"],
    "beta2_0.99": ["optim.betas=[0.9,0.99]"],
    "n2600_d800": ["data.n_individuals=2600", "optim.decay_steps=800"],
    "warmup100": ["optim.warmup_steps=100"],
    "noclip": ["trainer.gradient_clip_val=null"],
    "d160_1000": ["model.d_model=160", "trainer.max_steps=1000", "optim.decay_steps=400"],
    "L3_1000": ["model.n_layer=3", "trainer.max_steps=1000", "optim.decay_steps=400"],
    "d192_L1_1300": ["model.d_model=192", "model.n_layer=1"],
    "lr2e-3": ["optim.lr=2e-3"],
    "h8_lr4_d800": [*H8, "optim.lr=4e-3", "optim.decay_steps=800"],
    "h8_b48": [*H8, *B48, "optim.decay_steps=700"],
    "h8_b48_lr4_d900": [*H8, *B48, "optim.decay_steps=900", "optim.lr=4e-3"],
    "h16": ["model.n_head=16"],
    "h16_b48": ["model.n_head=16", *B48, "optim.decay_steps=700"],
    "h8_d800": [*H8, "optim.decay_steps=800"],
    "h8_L1_d192": L1_D192,
    "h8_b40": [*H8, "data.batch_size=40", "trainer.max_steps=2080", "optim.decay_steps=800"],
    "h8_noclip": [*H8, "trainer.gradient_clip_val=null"],
    "h8_b48_n2000": [*H8, *B48, "optim.decay_steps=700", "data.n_individuals=2000"],
    "h8_b56_lr3.5": [
        *H8,
        "data.batch_size=56",
        "trainer.max_steps=1490",
        "optim.decay_steps=700",
        "optim.lr=3.5e-3",
    ],
    "h8_L1_d192_b48": [*L1_D192, *B48, "optim.decay_steps=700"],
    "h8_b48_n2400": [*H8, *B48, "optim.decay_steps=700", "data.n_individuals=2400"],
    "h8_b48_n2600_lr4_d900": [
        *H8,
        *B48,
        "optim.decay_steps=900",
        "optim.lr=4e-3",
        "data.n_individuals=2600",
    ],
    "h16_b48_n2400": [
        "model.n_head=16",
        *B48,
        "optim.decay_steps=700",
        "data.n_individuals=2400",
    ],
    "L2_d192_h8_1000": [
        *H8,
        "model.d_model=192",
        "trainer.max_steps=1000",
        "optim.decay_steps=400",
    ],
    "L1_d192_h8_n2600": [*L1_D192, "data.n_individuals=2600"],
    "L1_d192_h8_n3000": [*L1_D192, "data.n_individuals=3000"],
    "h8_b48_lr2.5": [*H8, *B48, "optim.decay_steps=700", "optim.lr=2.5e-3"],
    "h8_lr5_d900": [*H8, "optim.lr=5e-3", "optim.decay_steps=900"],
    "h8_b48_wd0": [*H8, *B48, "optim.decay_steps=700", "optim.weight_decay=0"],
    "h8_b48_n2400_d900": [*H8, *B48, "optim.decay_steps=900", "data.n_individuals=2400"],
}


def run_folder(setting: str, seed: int) -> Path:
    return ROOT / setting / f"seed_{seed}"


def train(setting: str, seed: int) -> tuple[int, str]:
    """One run in its own process (recall-train), so that runs share the GPU in parallel;
    a run already there is trained again."""
    folder = run_folder(setting, seed)
    shutil.rmtree(folder, ignore_errors=True)
    accelerator = "gpu" if torch.cuda.is_available() else "cpu"
    command = [
        sys.executable,
        "-c",
        "from recall.train import main; main()",
        f"seed={seed}",
        f"run_dir={folder}",
        "threads=1",
        f"trainer.accelerator={accelerator}",
        "progress_refresh=1000",
        *SETTINGS[setting],
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    return done.returncode, done.stderr[-800:]


def judged(setting: str, seed: int) -> dict:
    """The run's plateau against part 1's targets."""
    p = plateau(RunFolder(run_folder(setting, seed)))
    return {
        "statistics_end": p.statistics_end,
        "onset": p.onset,
        "flat_until": p.flat_until,
        "worst_deviation": round(p.worst_deviation, 4),
        "final_accuracy": round(p.final_accuracy, 3),
        "targets_met": p.complete  # both boundaries found: neither is None
        and p.onset >= ONSET_RATIO * p.statistics_end
        and p.final_accuracy >= FINAL_ACC,
    }


def main(settings: list[str]) -> None:
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        sys.exit(f"default_run_sweep: unknown settings {unknown}; choose from {list(SETTINGS)}")
    results = json.loads(OUT.read_text()) if OUT.is_file() else {"runs": []}
    here = machine(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    jobs = [(s, seed) for s in settings or SETTINGS for seed in SEEDS]

    def one(job: tuple[str, int]) -> dict:
        started = time.perf_counter()
        code, error = train(*job)
        row = {"setting": job[0], "overrides": SETTINGS[job[0]], "seed": job[1]}
        row["wall_s"] = round(time.perf_counter() - started)
        row["machine"] = here
        return {**row, **(judged(*job) if code == 0 else {"error": error})}

    with ThreadPoolExecutor(PARALLEL) as pool:
        for row in pool.map(one, jobs):
            kept = [
                r
                for r in results["runs"]
                if (r["setting"], r["seed"]) != (row["setting"], row["seed"])
            ]
            results["runs"] = [*kept, row]
            OUT.write_text(json.dumps(results, indent=1) + "\n")
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
