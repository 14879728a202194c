"""Figures comparing runs: overlaid learning curves, plateau length against N, and
fine-tuning runs' old vs new accuracy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from recall.plots.style import COLUMN, PAGE, STEP_LABEL, figure, panel_letters, paper_style
from recall.runs import RunFolder

if TYPE_CHECKING:
    from recall.power_law import PowerLaw


def run_colors(n: int) -> np.ndarray:
    return plt.cm.viridis(np.linspace(0, 0.85, n))


def curves_figure(
    runs: Sequence[RunFolder], labels: Sequence[str], plateau_ends: Sequence[int | None]
) -> Figure:
    """Seen attribute loss (each run's baseline dashed, plateau end dotted) and accuracy."""
    with paper_style():
        fig, (ax_loss, ax_acc) = figure(1, 2, width=PAGE, height=2.4, sharex=True)
        top = 0.0
        for run, label, end, color in zip(
            runs, labels, plateau_ends, run_colors(len(runs)), strict=True
        ):
            steps, loss = run.curve("seen/attr_loss")
            _, acc = run.curve("seen/attr_acc")
            baseline = run.read_json(run.corpus)["baseline"]
            ax_loss.plot(steps, loss, color=color, label=label)
            ax_loss.axhline(baseline, color=color, ls="--", lw=0.7)
            ax_acc.plot(steps, acc, color=color, label=label)
            if end is not None:
                for ax in (ax_loss, ax_acc):
                    ax.axvline(end, color=color, ls=":", lw=0.8)
            top = max(top, 1.6 * baseline)
        ax_loss.set_ylim(0, top)
        ax_loss.set_ylabel("seen attribute loss (nats)")
        ax_acc.set_ylim(-0.02, 1.02)
        ax_acc.set_ylabel("seen attribute accuracy")
        ax_acc.legend(title="dashed: no-knowledge baseline\ndotted: plateau end", loc="best")
        for ax in (ax_loss, ax_acc):
            ax.set_xlabel(STEP_LABEL)
        panel_letters([ax_loss, ax_acc])
    return fig


def interference_comparison_figure(runs: Sequence[RunFolder], labels: Sequence[str]) -> Figure:
    """Fine-tuning runs: old individuals' accuracy (solid) and new ones' (dashed)."""
    with paper_style():
        fig, ax = figure(width=COLUMN, height=2.4)
        for run, label, color in zip(runs, labels, run_colors(len(runs)), strict=True):
            ax.plot(*run.curve("old/attr_acc"), color=color, label=label)
            ax.plot(*run.curve("new/attr_acc"), color=color, lw=0.9, ls="--")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("fine-tuning step")
        ax.set_ylabel("attribute accuracy")
        ax.legend(title="solid: old individuals, dashed: new")
    return fig


def power_law_figure(fit: PowerLaw) -> Figure:
    """Plateau length against population size on log-log axes, with the fitted law."""
    with paper_style():
        fig, ax = figure(width=COLUMN, height=2.4)
        ax.loglog(fit.n, fit.plateau, "o", color="C0", markersize=4, label="runs")
        grid = np.geomspace(fit.n.min(), fit.n.max(), 50)
        label = f"{fit.a:.3g}·N$^{{{fit.b:.2f}}}$  (R² = {fit.r2:.3f})"
        ax.loglog(grid, fit(grid), color="C3", lw=1, label=label)
        ax.set_xticks(np.unique(fit.n), [f"{n:g}" for n in np.unique(fit.n)])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("individuals N")
        ax.set_ylabel("plateau length (steps)")
        ax.legend()
    return fig
