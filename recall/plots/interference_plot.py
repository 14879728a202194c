"""The fine-tuning figure: old vs new individuals' accuracy and loss, and attention drift."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from recall.runs import RunFolder  # noqa: E402

GROUP_STYLE = {"old": ("C3", "old individuals (pre-training)"), "new": ("C0", "new individuals")}


def plot_interference(run: RunFolder, title: str = "") -> Path:
    """Write interference_plot.png: accuracy, loss (with baseline), attention drift per layer."""
    fig, (ax_acc, ax_loss, ax_drift) = plt.subplots(
        3, 1, figsize=(6.5, 7), sharex=True, height_ratios=(2, 1.4, 1)
    )
    baseline = run.read_json(run.corpus)["baseline"]
    for group, (color, label) in GROUP_STYLE.items():
        steps, acc = run.curve(f"{group}/attr_acc")
        _, loss = run.curve(f"{group}/attr_loss")
        ax_acc.plot(steps, acc, color=color, lw=1.5, label=label)
        ax_loss.plot(steps, loss, color=color, lw=1.5)
    ax_loss.axhline(baseline, color="0.4", ls="--", lw=1, label="no-knowledge baseline")
    for column in run.columns("attn_drift/"):
        ax_drift.plot(*run.curve(column), lw=1.2, label=column.split("/")[-1])
    ax_acc.set_ylim(-0.02, 1.02)
    ax_acc.set_ylabel("attribute accuracy")
    ax_acc.legend(fontsize=8)
    ax_loss.set_ylim(bottom=0)
    ax_loss.set_ylabel("attribute loss (nats)")
    ax_loss.legend(fontsize=8)
    ax_drift.set_ylabel("attention drift\n(total variation)")
    ax_drift.set_ylim(bottom=0)
    ax_drift.legend(fontsize=8)
    ax_drift.set_xlabel("fine-tuning step")
    ax_acc.set_title(title or "Fine-tuning on new individuals", fontsize=10)
    fig.tight_layout()
    fig.savefig(run.interference_plot, dpi=130)
    plt.close(fig)
    return run.interference_plot
