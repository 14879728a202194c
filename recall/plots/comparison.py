"""Figures comparing runs: overlaid learning curves, plateau length against N, and
fine-tuning runs' old vs new accuracy."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402

from recall.runs import RunFolder  # noqa: E402

if TYPE_CHECKING:
    from recall.compare import PowerLaw


def plot_curves(
    runs: Sequence[RunFolder],
    labels: Sequence[str],
    plateau_ends: Sequence[int | None],
    path: Path,
) -> Path:
    """Seen attribute loss (each run's baseline dashed, plateau end dotted) and accuracy."""
    fig, (ax_loss, ax_acc) = plt.subplots(2, 1, figsize=(6.5, 6), sharex=True)
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(runs)))
    top = 0.0
    for run, label, end, color in zip(runs, labels, plateau_ends, colors, strict=True):
        steps, loss = run.curve("seen/attr_loss")
        _, acc = run.curve("seen/attr_acc")
        baseline = run.read_json(run.corpus)["baseline"]
        ax_loss.plot(steps, loss, color=color, lw=1.4, label=label)
        ax_loss.axhline(baseline, color=color, ls="--", lw=0.8)
        ax_acc.plot(steps, acc, color=color, lw=1.4)
        if end is not None:
            for ax in (ax_loss, ax_acc):
                ax.axvline(end, color=color, ls=":", lw=0.9)
        top = max(top, 1.6 * baseline)
    ax_loss.set_ylim(0, top)
    ax_loss.set_ylabel("seen attribute loss (nats)")
    ax_loss.legend(
        fontsize=7,
        loc="lower left",
        title="dashed: no-knowledge baseline\ndotted: plateau end",
        title_fontsize=7,
    )
    ax_acc.set_ylim(-0.02, 1.02)
    ax_acc.set_ylabel("seen attribute accuracy")
    ax_acc.set_xlabel("training step")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def plot_interference_comparison(
    runs: Sequence[RunFolder], labels: Sequence[str], path: Path
) -> Path:
    """Fine-tuning runs: old individuals' accuracy (solid) and new ones' (dashed)."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(runs)))
    for run, label, color in zip(runs, labels, colors, strict=True):
        ax.plot(*run.curve("old/attr_acc"), color=color, lw=1.5, label=label)
        ax.plot(*run.curve("new/attr_acc"), color=color, lw=1.2, ls="--")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("fine-tuning step")
    ax.set_ylabel("attribute accuracy")
    ax.legend(fontsize=7, title="solid: old individuals\ndashed: new", title_fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def plot_power_law(fit: PowerLaw, path: Path) -> Path:
    """Plateau length against population size on log-log axes, with the fitted law."""
    fig, ax = plt.subplots(figsize=(4.5, 3.6))
    ax.loglog(fit.n, fit.plateau, "o", color="C0", label="runs")
    grid = np.geomspace(fit.n.min(), fit.n.max(), 50)
    ax.loglog(
        grid, fit(grid), color="C3", lw=1.2, label=f"{fit.a:.3g}·N^{fit.b:.2f}  (R²={fit.r2:.3f})"
    )
    ax.set_xticks(np.unique(fit.n), [f"{n:g}" for n in np.unique(fit.n)])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("individuals N")
    ax.set_ylabel("plateau length (steps)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path
