"""The fine-tuning figure: old vs new individuals' accuracy and loss, and attention drift."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from recall.plots.style import BASELINE, PAGE, figure, panel_letters, paper_style, save
from recall.runs import RunFolder

GROUP_STYLE = {"old": ("C3", "old individuals (pre-training)"), "new": ("C0", "new individuals")}


def interference_figure(run: RunFolder, title: str = "") -> Figure:
    """Accuracy, loss (with the baseline) and attention drift per layer, side by side."""
    baseline = run.read_json(run.corpus)["baseline"]
    with paper_style():
        fig, (ax_acc, ax_loss, ax_drift) = figure(1, 3, width=PAGE, height=2.2, sharex=True)
        for group, (color, label) in GROUP_STYLE.items():
            steps, acc = run.curve(f"{group}/attr_acc")
            ax_acc.plot(steps, acc, color=color, label=label)
            ax_loss.plot(*run.curve(f"{group}/attr_loss"), color=color)
        ax_loss.axhline(baseline, color=BASELINE, ls="--", lw=1, label="no-knowledge baseline")
        for column in run.columns("attn_drift/"):
            ax_drift.plot(*run.curve(column), label=column.split("/")[-1])
        ax_acc.set_ylim(-0.02, 1.02)
        ax_acc.set_ylabel("attribute accuracy")
        ax_acc.legend()
        ax_loss.set_ylim(bottom=0)
        ax_loss.set_ylabel("attribute loss (nats)")
        ax_loss.legend()
        ax_drift.set_ylim(bottom=0)
        ax_drift.set_ylabel("attention drift (total variation)")
        ax_drift.legend()
        for ax in (ax_acc, ax_loss, ax_drift):
            ax.set_xlabel("fine-tuning step")
        panel_letters([ax_acc, ax_loss, ax_drift])
        if title:
            fig.suptitle(title, fontsize=8)
    return fig


def plot_interference(run: RunFolder, title: str = "") -> list[Path]:
    """Write the run's interference_plot.png and .pdf."""
    return save(interference_figure(run, title), run.interference_plot.with_suffix(""))
