"""The study's two sweeps on a GPU, each size's seeds trained as one ensemble:
plateau length against population size (4k-32k individuals, 3 seeds each) and the
power-law α sweep at one size, with per-layer circuit metrics.

    python -m benchmarks.gpu_sweeps [OUT]        # the study's model; about 8 min on an H100
    python -m benchmarks.gpu_sweeps OUT --tiny   # the same code path on a CPU, in a minute

Writes OUT/gpu_sweeps.json after every ensemble (so a run stopped early keeps what it
finished), then benchmarks/results/gpu_sweeps.json. Its figures, drawn anywhere from that file:

    python -m benchmarks.gpu_sweeps --plot       # docs/gpu_sweeps.png

Differences from the study, all for the device time one session has (15 min): the study's
model and batch (experiment=paper), but each size runs only about 1.3x its expected plateau
(0.43 N^0.81 scaled to our 64k run's onset), so the learning rate is held at its peak after
a 100-step warm-up instead of a 16k-step cosine, which would differ between sizes.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from matplotlib.ticker import NullFormatter

from benchmarks.common import RESULTS, config, machine
from benchmarks.common import write as write_results
from recall.ensemble import train_ensemble
from recall.fitting import quiet_lightning
from recall.plots.comparison import run_colors
from recall.plots.style import PAGE, STEP_LABEL, figure, paper_style, save
from recall.power_law import fit_power_law
from recall.runs import RunFolder

SIZES = (4000, 8000, 16000, 32000)
SEEDS = (0, 1, 2)
ALPHA_SIZE = 4000
ALPHAS = (0.0, 0.5, 0.75, 1.0)
ALPHA_SEEDS = (0, 1)
ONSET_AT_64K = 4000  # our experiment=paper run (benchmarks/results/paper_h100_run.json)
LENGTH = 1.3  # steps run, in expected plateaus
STUDY = ["experiment=paper", "compile=false", "progress_refresh=0"]
CONSTANT_LR = ["optim.warmup_steps=100", "optim.min_lr_ratio=1.0"]
TINY = [  # the same code path on a CPU: tiny model and population, a few steps
    "model=tiny",
    "trainer=cpu",
    "data.batch_size=16",
    "data.num_workers=0",
    "data.first_names=40",
    "data.middle_names=40",
    "data.last_names=40",
]
CIRCUITS = ("attr_to_name", "name_to_name", "attr_to_text")


def expected_plateau(n: int) -> float:
    return ONSET_AT_64K * (n / 64000) ** 0.81


def steps_for(n: int, tiny: bool) -> int:
    if tiny:
        return 40
    return 100 * math.ceil(LENGTH * expected_plateau(n) / 100)


def member_summary(run: RunFolder, **labels: object) -> dict:
    """What the figures and the fit need, without checkpoints: phases, the seen curve and
    each circuit's head-mean per layer at every evaluation."""
    phases = run.read_json(run.phases)
    steps, loss = run.curve("seen/attr_loss")
    curves = {"step": steps.tolist(), "attr_loss": loss.tolist()}
    for name, metric in (("attr_acc", "seen/attr_acc"), ("unseen_attr_loss", "unseen/attr_loss")):
        curves[name] = run.curve(metric)[1].tolist()
    for circuit in CIRCUITS:
        for column in run.columns(f"attn/{circuit}/layer"):
            if "/head" not in column and not column.endswith(("/best", "/chance")):
                curves[column] = run.curve(column)[1].tolist()
    keep = ("baseline", "statistics_end_step", "knowledge_onset_step", "plateau_length")
    return {
        **labels,
        **{k: phases.get(k) for k in keep},
        "final_attr_acc": phases.get("final_attr_acc"),
        "curves": curves,
    }


def ensemble(overrides: list[str], run_dir: Path) -> tuple[list[RunFolder], float]:
    started = time.perf_counter()
    members = train_ensemble(config([*overrides, f"run_dir={run_dir}"]))
    return members, time.perf_counter() - started


def sweeps(out: Path, tiny: bool) -> dict:
    base = TINY if tiny else STUDY
    seeds = f"seeds=[{','.join(map(str, SEEDS))}]"
    results: dict = {"sizes": [], "alpha": [], "wall_s": {}}
    if not tiny:
        import torch

        results["machine"] = machine(torch.device("cuda"))
    results["setup"] = " ".join([*base, *CONSTANT_LR])

    def save() -> None:
        (out / "gpu_sweeps.json").write_text(json.dumps(results, indent=1))

    for n in SIZES if not tiny else (200, 400, 800):
        steps = steps_for(n, tiny)
        every = max(5, 25 * round(steps / 40 / 25)) if not tiny else 10
        run = [f"data.n_individuals={n}", f"trainer.max_steps={steps}", f"eval.every={every}"]
        run += [f"checkpoint.every_n_steps={steps}"]
        members, wall = ensemble([*base, *CONSTANT_LR, *run, seeds], out / f"n{n}")
        results["sizes"] += [
            member_summary(m, n=n, seed=s) for m, s in zip(members, SEEDS, strict=True)
        ]
        results["wall_s"][f"n{n}"] = round(wall, 1)
        print(f"N={n}: {[r['plateau_length'] for r in results['sizes'][-3:]]} ({wall:.0f} s)")
        save()

    n = ALPHA_SIZE if not tiny else 400
    steps = steps_for(n, tiny)
    variants = ",".join(f"{{data:{{distribution:{{alpha:{a}}}}}}}" for a in ALPHAS)
    run = [
        f"data.n_individuals={n}",
        f"trainer.max_steps={steps}",
        f"eval.every={10 if tiny else 25}",
    ]
    run += [f"checkpoint.every_n_steps={steps}", "data/distribution=power_law"]
    run += [f"members=[{variants}]"]
    run += [f"seeds=[{','.join(map(str, ALPHA_SEEDS))}]"]
    members, wall = ensemble([*base, *CONSTANT_LR, *run], out / "alpha")
    labels = [(a, s) for a in ALPHAS for s in ALPHA_SEEDS]
    results["alpha"] = [
        member_summary(m, n=n, alpha=a, seed=s) for m, (a, s) in zip(members, labels, strict=True)
    ]
    results["wall_s"]["alpha"] = round(wall, 1)
    print(f"alpha: {[(r['alpha'], r['plateau_length']) for r in results['alpha']]}")
    save()
    return results


def sweeps_figure(results: dict):
    """Plateau against N with its fit over all seeds, the attribute -> name circuit per
    layer at the largest size, and plateau against the power law's α."""
    sizes, alpha_runs = results["sizes"], results["alpha"]
    ns = sorted({m["n"] for m in sizes})
    fit = fit_power_law([m["n"] for m in sizes], [m["plateau_length"] for m in sizes])
    with paper_style():
        fig, (law, circuit, alpha) = figure(1, 3, width=PAGE, height=2.3)
        law.loglog(fit.n, fit.plateau, "o", color="C0", markersize=3, label="runs (3 seeds)")
        grid = np.geomspace(fit.n.min(), fit.n.max(), 50)
        fitted = f"fit: {fit.a:.2g}·N$^{{{fit.b:.2f}}}$ (R² {fit.r2:.3f})"
        law.loglog(grid, fit(grid), color="C3", lw=1, label=fitted)
        middle = np.exp(np.log(grid).mean())
        study = fit(middle) * (grid / middle) ** 0.81
        law.loglog(grid, study, color="0.5", lw=0.8, ls=":", label="study's slope, 0.81")
        law.set_xticks(ns, [f"{n // 1000}k" for n in ns])
        law.xaxis.set_minor_formatter(NullFormatter())
        law.set_xlabel("individuals N")
        law.set_ylabel("plateau length (steps)")
        law.legend()
        largest = next(m for m in sizes if m["n"] == ns[-1])
        layers = sorted(k for k in largest["curves"] if k.startswith("attn/attr_to_name/"))
        for key, color in zip(layers, run_colors(len(layers)), strict=True):
            label = key.rsplit("/", 1)[1]
            circuit.plot(
                largest["curves"]["step"], largest["curves"][key], color=color, label=label
            )
        circuit.axvline(largest["knowledge_onset_step"], color="0.35", lw=0.7, ls="--")
        circuit.set_ylim(0, 1.25)
        circuit.set_xlabel(STEP_LABEL)
        circuit.set_ylabel(f"attention value → name, N = {ns[-1] // 1000}k")
        circuit.legend(ncols=2, title="dashed: knowledge onset")
        alphas = sorted({m["alpha"] for m in alpha_runs})
        for a, color in zip(alphas, run_colors(len(alphas)), strict=True):
            lengths = [m["plateau_length"] for m in alpha_runs if m["alpha"] == a]
            alpha.plot([a] * len(lengths), lengths, "o", color=color, markersize=3)
        alpha.set_xlabel("power-law exponent α (0: uniform)")
        alpha.set_ylabel(f"plateau length, N = {alpha_runs[0]['n'] // 1000}k")
    return fig


def plot() -> None:
    results = json.loads((RESULTS / "gpu_sweeps.json").read_text())
    docs = Path(__file__).parent.parent / "docs"
    print(*save(sweeps_figure(results), docs / "gpu_sweeps", formats=("png",)))


def main() -> None:
    if "--plot" in sys.argv:
        return plot()
    quiet_lightning()
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    tiny = "--tiny" in sys.argv
    out = Path(args[0]) if args else Path("runs/gpu_sweeps")
    out.mkdir(parents=True, exist_ok=True)
    results = sweeps(out, tiny)
    if not tiny:
        write_results("gpu_sweeps", results)
    print(f"written {out / 'gpu_sweeps.json'}" + ("" if tiny else f" and {RESULTS}"))


if __name__ == "__main__":
    main()
