"""`recall-plot`: paper-style figures, as PNG and PDF, from finished or running runs.

recall-plot runs/default/<time>            # one run's figures, into <run>/figures/
recall-plot multiruns/imbalance/<time>     # every run's, and the comparison into <sweep>/figures/

A training run gets: phases (loss against the baseline, accuracy, phases shaded),
attention (circuits of the first and last layer), hallucination (seen vs unseen loss,
confidence, entropy) and frequency_buckets (accuracy of head, torso and tail), each when
its metrics were logged. A fine-tuning run gets interference. A sweep also gets
comparison (overlaid curves), plateau_vs_n (with three or more population sizes) or, for
fine-tuning sweeps, interference.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from recall.cli import ArgumentParser, reported
from recall.compare import compare, find_runs
from recall.errors import ConfigError
from recall.plots.dynamics import attention_figure, buckets_figure, hallucination_figure
from recall.plots.interference_plot import interference_figure
from recall.plots.phase_plot import phases_figure
from recall.plots.style import save
from recall.runs import RunFolder


def run_figures(run: RunFolder) -> dict[str, Figure]:
    """Every figure the run's metrics allow, by file stem."""
    if run.is_finetuning:
        return {"interference": interference_figure(run)}
    steps, loss = run.curve("seen/attr_loss")
    if not len(steps):
        raise ConfigError(f"{run.path} has no evaluation yet; plot it after its first one")
    phases = run.detected_phases()
    figures = {"phases": phases_figure(steps, loss, run.curve("seen/attr_acc")[1], phases)}
    for stem, make in (
        ("attention", attention_figure),
        ("hallucination", hallucination_figure),
        ("frequency_buckets", buckets_figure),
    ):
        if (fig := make(run, phases)) is not None:
            figures[stem] = fig
    return figures


def plot_run(run: RunFolder, out: Path | None = None) -> list[Path]:
    """Write the run's figures into `out` (default <run>/figures) and return the paths."""
    out = out or run.path / "figures"
    return [path for stem, fig in run_figures(run).items() for path in save(fig, out / stem)]


def plot_folder(folder: Path) -> list[Path]:
    """A run folder's figures, or a sweep's: each run's, then the comparison figures."""
    runs = find_runs([folder])
    paths = [path for run in runs for path in plot_run(run)]
    if len(runs) > 1:
        out = folder / "figures"
        compare(runs, out)
        paths += sorted(p for p in out.iterdir() if p.suffix in (".png", ".pdf"))
    return paths


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point."""
    parser = ArgumentParser(
        prog="recall-plot", description="Paper-style figures (PNG and PDF) from run folders."
    )
    parser.add_argument("folder", type=Path, help="a run folder or a folder holding runs")
    args = parser.parse_args(argv)
    with reported("recall-plot"):
        paths = plot_folder(args.folder)
    print(f"recall-plot: wrote {len(paths)} files:")
    for path in paths:
        print(f"  {path}")
