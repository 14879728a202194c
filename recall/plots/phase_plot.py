"""The three-phase figure: attribute loss against the baseline, and attribute accuracy."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from recall.phases import Phases  # noqa: E402
from recall.runs import RunFolder  # noqa: E402

PHASE_COLORS = {"statistics": "#d9e6f2", "plateau": "#f6e3c6", "knowledge acquisition": "#d8eed8"}


def plot_phases(run: RunFolder, phases: Phases, title: str = "") -> Path:
    """Write phase_plot.png: loss and accuracy over steps, phases shaded and labelled."""
    steps, loss = run.curve("seen/attr_loss")
    _, acc = run.curve("seen/attr_acc")
    fig, (ax_loss, ax_acc) = plt.subplots(2, 1, figsize=(6.5, 5.5), sharex=True)
    end = steps[-1]
    spans = _phase_spans(phases, end)
    for ax in (ax_loss, ax_acc):
        for name, lo, hi in spans:
            ax.axvspan(lo, hi, color=PHASE_COLORS[name], zorder=0)
        for boundary in (phases.statistics_end_step, phases.knowledge_onset_step):
            if boundary is not None:
                ax.axvline(boundary, color="0.35", lw=0.8, ls=":")
    ax_loss.plot(steps, loss, color="C0", marker=".", lw=1.5, label="seen individuals")
    ax_loss.axhline(
        phases.baseline,
        color="C3",
        ls="--",
        lw=1.2,
        label=f"no-knowledge baseline ({phases.baseline:.2f} nats)",
    )
    ax_loss.set_ylabel("attribute loss (nats)")
    ax_loss.set_ylim(0, min(loss.max() * 1.05, 2 * phases.baseline))  # the start may be cut off
    ax_loss.legend(loc="upper right", fontsize=8)
    ax_acc.plot(steps, acc, color="C2", marker=".", lw=1.5)
    ax_acc.set_ylim(-0.02, 1.02)
    ax_acc.set_ylabel("attribute accuracy")
    ax_acc.set_xlabel("training step")
    for name, lo, hi in spans:
        ax_acc.text((lo + hi) / 2, 0.95, name, ha="center", va="top", fontsize=8, color="0.25")
    ax_loss.set_title(title or "Phases of fact learning", fontsize=10)
    fig.tight_layout()
    fig.savefig(run.phase_plot, dpi=130)
    plt.close(fig)
    return run.phase_plot


def _phase_spans(phases: Phases, end: int) -> list[tuple[str, int, int]]:
    """(phase, first step, last step) of each phase reached; the last runs to `end`.

    The detector finds knowledge onset only after the statistics end, so the known
    boundaries are always a prefix.
    """
    boundaries = (phases.statistics_end_step, phases.knowledge_onset_step)
    starts = [0, *(step for step in boundaries if step is not None)]
    return list(zip(PHASE_COLORS, starts, [*starts[1:], end], strict=False))
