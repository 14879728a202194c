"""The fine-tuning figure: old vs new individuals' accuracy and loss, attention drift, and
the attention circuits per layer, against the control's (dashed) when the run has one."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from recall.callbacks.interference import CIRCUITS
from recall.plots.style import BASELINE, PAGE, figure, panel_letters, paper_style, save
from recall.runs import RunFolder

GROUP_STYLE = {"old": ("C3", "old individuals (pre-training)"), "new": ("C0", "new individuals")}
CIRCUIT_LABELS = {
    "name_to_name": "name → name",
    "attr_to_name": "attribute → name",
    "attr_to_text": "attribute → text",
}
CONTROL_FOLDER = "control"  # <run>/control: the control of a fine-tuning run (control=true)


def control_of(run: RunFolder) -> RunFolder | None:
    """The run's control (pre-training continued on the old population), if it has one."""
    control = RunFolder(run.path / CONTROL_FOLDER)
    return control if control.metrics.is_file() else None


def interference_figure(run: RunFolder, title: str = "") -> Figure:
    """Top: accuracy, loss (with the baseline) and attention drift per layer. Bottom: each
    circuit metric per layer (head means on old biographies), the control dashed."""
    baseline = run.read_json(run.corpus)["baseline"]
    control = control_of(run)
    with paper_style():
        fig, axes = figure(2, 3, width=PAGE, height=4.4, sharex=True)
        (ax_acc, ax_loss, ax_drift), circuit_axes = axes
        for group, (color, label) in GROUP_STYLE.items():
            steps, acc = run.curve(f"{group}/attr_acc")
            if not len(steps):  # a control has no new individuals
                continue
            ax_acc.plot(steps, acc, color=color, label=label)
            ax_loss.plot(*run.curve(f"{group}/attr_loss"), color=color)
        if control is not None:
            label = "old individuals, control (no new ones)"
            ax_acc.plot(*control.curve("old/attr_acc"), color="C3", ls="--", label=label)
            ax_loss.plot(*control.curve("old/attr_loss"), color="C3", ls="--")
        ax_loss.axhline(baseline, color=BASELINE, ls="--", lw=1, label="no-knowledge baseline")
        for i, column in enumerate(run.columns("attn_drift/")):
            ax_drift.plot(*run.curve(column), color=f"C{i}", label=column.split("/")[-1])
            if control is not None:
                ax_drift.plot(*control.curve(column), color=f"C{i}", ls="--")
        for ax, name in zip(circuit_axes, CIRCUITS, strict=True):
            layers = [c for c in run.columns(f"attn/{name}/") if c.count("/") == 2]
            for i, column in enumerate(layers):  # head means, per layer
                ax.plot(*run.curve(column), color=f"C{i}", label=column.split("/")[-1])
                if control is not None:
                    ax.plot(*control.curve(column), color=f"C{i}", ls="--")
            ax.set_ylim(-0.02, 1.02)
            ax.set_ylabel(f"attention {CIRCUIT_LABELS[name]}")
            if layers:  # runs from before the circuits were logged have none
                ax.legend(title="dashed: control" if control is not None else None)
        ax_acc.set_ylim(-0.02, 1.02)
        ax_acc.set_ylabel("attribute accuracy")
        ax_acc.legend()
        ax_loss.set_ylim(bottom=0)
        ax_loss.set_ylabel("attribute loss (nats)")
        ax_loss.legend()
        ax_drift.set_ylim(bottom=0)
        ax_drift.set_ylabel("attention drift (total variation)")
        ax_drift.legend(title="dashed: control" if control is not None else None)
        for ax in circuit_axes:
            ax.set_xlabel("fine-tuning step")
        panel_letters([ax_acc, ax_loss, ax_drift, *circuit_axes])
        if title:
            fig.suptitle(title, fontsize=8)
    return fig


def plot_interference(run: RunFolder, title: str = "") -> list[Path]:
    """Write the run's interference_plot.png and .pdf."""
    return save(interference_figure(run, title), run.interference_plot.with_suffix(""))
