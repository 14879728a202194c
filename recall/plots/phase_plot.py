"""The three-phase figure: attribute loss against the baseline, and attribute accuracy."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from recall.phases import Phases
from recall.plots.style import (
    BASELINE,
    PAGE,
    SEEN,
    STEP_LABEL,
    figure,
    label_phases,
    mark_phases,
    paper_style,
    save,
)
from recall.runs import RunFolder


def band_label(phases: Phases) -> str:
    d = phases.settings
    if d.knowledge_margin == d.statistics_tolerance:
        return f"baseline ± {d.knowledge_margin:.0%} (phase detector)"
    return f"baseline −{d.knowledge_margin:.0%} / +{d.statistics_tolerance:.0%} (phase detector)"


def phases_figure(
    steps: Sequence[int],
    loss: Sequence[float],
    acc: Sequence[float],
    phases: Phases,
    title: str = "",
) -> Figure:
    """Loss (with the no-knowledge baseline) and accuracy side by side, phases shaded."""
    steps, loss, acc = np.asarray(steps), np.asarray(loss), np.asarray(acc)
    with paper_style():
        fig, (ax_loss, ax_acc) = figure(1, 2, width=PAGE, height=2.3, sharex=True)
        end = int(steps[-1])
        for ax in (ax_loss, ax_acc):
            ax.set_xlim(0, end)
            mark_phases(ax, phases, end)
            label_phases(ax, phases, end)
            ax.set_xlabel(STEP_LABEL)
        ax_loss.plot(steps, loss, color=SEEN, marker=".", label="seen individuals")
        ax_loss.axhline(
            phases.baseline, color=BASELINE, ls="--", lw=1, label="no-knowledge baseline"
        )
        band = phases.settings.thresholds(phases.baseline)  # the plateau lies inside
        ax_loss.axhspan(*band, color=BASELINE, alpha=0.2, lw=0, zorder=1, label=band_label(phases))
        ax_loss.set_ylabel("attribute loss (nats)")
        top = np.nanmax(loss) * 1.05  # a diverged evaluation (NaN) is left out
        if phases.baseline > 0:  # the start may be cut; a zero baseline (N = 1) would hide all
            top = min(top, 2 * phases.baseline)
        ax_loss.set_ylim(0, top)
        ax_loss.legend(loc="lower left")
        ax_acc.plot(steps, acc, color="C2", marker=".")
        ax_acc.set_ylim(-0.02, 1.02)
        ax_acc.set_ylabel("attribute accuracy")
        if title:
            fig.suptitle(title, fontsize=8)
    return fig


def plot_phases(run: RunFolder, phases: Phases, title: str = "") -> list[Path]:
    """Write the run's phase_plot.png and .pdf."""
    steps, loss = run.curve("seen/attr_loss")
    _, acc = run.curve("seen/attr_acc")
    return save(phases_figure(steps, loss, acc, phases, title), run.phase_plot.with_suffix(""))
