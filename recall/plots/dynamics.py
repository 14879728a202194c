"""Figures of one training run's dynamics beyond the phases: attention circuits,
hallucination on unseen individuals, and accuracy by frequency bucket.

Each returns None when the run did not log what it needs (e.g. `callbacks=none`).
"""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from recall.circuits import attention_layers
from recall.data.distributions import BUCKETS
from recall.phases import Phases
from recall.plots.style import (
    BASELINE,
    COLUMN,
    PAGE,
    SEEN,
    STEP_LABEL,
    UNSEEN,
    figure,
    label_phases,
    mark_phases,
    panel_letters,
    paper_style,
)
from recall.runs import RunFolder

CIRCUITS = {  # metric: (label, color)
    "attr_to_name": ("attribute → name", "C3"),
    "attr_to_text": ("attribute → other text", "C7"),
    "name_to_name": ("last name token → other name tokens", "C0"),
    "entropy": ("attention entropy (normalised)", "C2"),
}
CHANCE_NOTE = "dotted: uniform attention"
DOTTED = {"ls": ":", "lw": 0.8}  # a circuit's chance level, in the circuit's colour


def attention_figure(run: RunFolder, phases: Phases | None) -> Figure | None:
    """Attention mass of each circuit over training, first and last layer (head means),
    each circuit beside its chance level (dotted), so formed and spread are told apart."""
    layers = attention_layers(run)
    if not layers:
        return None
    shown = sorted({layers[0], layers[-1]})
    with paper_style():
        fig, axes = figure(1, len(shown), width=PAGE if len(shown) > 1 else COLUMN, height=2.2)
        axes = list(axes) if len(shown) > 1 else [axes]
        for ax, layer in zip(axes, shown, strict=True):
            steps = run.curve(f"attn/attr_to_name/layer{layer}")[0]
            mark_phases(ax, phases, int(steps[-1]))
            for metric, (label, color) in CIRCUITS.items():
                ax.plot(*run.curve(f"attn/{metric}/layer{layer}"), color=color, label=label)
                chance_steps, chance = run.curve(f"attn/{metric}/layer{layer}/chance")
                if len(chance):  # none for entropy, nor in runs logged before chance levels
                    ax.plot(chance_steps, chance, color=color, **DOTTED)
            ax.set_ylim(0, 1)
            ax.set_xlim(0, steps[-1])
            ax.set_xlabel(STEP_LABEL)
            ax.set_ylabel("attention mass (head mean)")
            name = "first" if layer == layers[0] else "last"
            ax.set_title(f"{name} layer (layer {layer})")
            if phases is not None:
                label_phases(ax, phases, int(steps[-1]))
        chance_note = Line2D([], [], color=BASELINE, label=CHANCE_NOTE, **DOTTED)
        handles = [*axes[-1].get_legend_handles_labels()[0], chance_note]
        axes[-1].legend(handles=handles, loc="center right")
        if len(axes) > 1:
            panel_letters(axes)
    return fig


def hallucination_figure(run: RunFolder, phases: Phases | None) -> Figure | None:
    """Seen vs unseen individuals: attribute loss against the baseline, confidence, entropy."""
    if "unseen/attr_loss" not in run.columns("unseen/"):
        return None
    record = run.read_json(run.corpus)
    baseline, unseen_baseline = record["baseline"], record.get("unseen_baseline")
    panels = (
        ("attr_loss", "attribute loss (nats)"),
        ("max_prob", "confidence (max-prob)"),
        ("entropy", "predictive entropy (nats)"),
    )
    with paper_style():
        fig, axes = figure(1, 3, width=PAGE, height=2.1, sharex=True)
        for ax, (metric, ylabel) in zip(axes, panels, strict=True):
            seen_steps, seen = run.curve(f"seen/{metric}")
            steps, unseen = run.curve(f"unseen/{metric}")
            mark_phases(ax, phases, int(steps[-1]))
            ax.plot(seen_steps, seen, color=SEEN, label="seen individuals")
            ax.plot(steps, unseen, color=UNSEEN, label="unseen (never trained on)")
            ax.set_xlabel(STEP_LABEL)
            ax.set_ylabel(ylabel)
            ax.set_xlim(0, steps[-1])
        axes[0].axhline(baseline, color=SEEN, ls="--", lw=1, label="no-knowledge baseline, seen")
        if unseen_baseline is not None:  # each set's own: their values differ at small N
            axes[0].axhline(unseen_baseline, color=UNSEEN, ls="--", lw=1, label="… unseen")
        axes[0].set_ylim(0, 2.2 * baseline)
        axes[1].set_ylim(0, 1.02)
        axes[2].set_ylim(bottom=0)
        axes[1].legend(*axes[0].get_legend_handles_labels(), loc="upper left")
        panel_letters(list(axes))
    return fig


def buckets_figure(run: RunFolder, phases: Phases | None) -> Figure | None:
    """Seen accuracy of the most, middle and least frequently sampled individuals."""
    if f"seen/attr_acc/{BUCKETS[0]}" not in run.columns("seen/attr_acc/"):
        return None
    colors = dict(zip(BUCKETS, ("C3", "C1", "C0"), strict=False))
    with paper_style():
        fig, ax = figure(height=2.2)
        steps, acc = run.curve("seen/attr_acc")
        mark_phases(ax, phases, int(steps[-1]))
        for bucket in BUCKETS:
            ax.plot(*run.curve(f"seen/attr_acc/{bucket}"), color=colors[bucket], label=bucket)
        ax.plot(steps, acc, color="k", lw=0.8, ls="--", label="all")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlim(0, steps[-1])
        ax.set_xlabel(STEP_LABEL)
        ax.set_ylabel("attribute accuracy")
        ax.legend(title="frequency bucket", loc="upper left")
    return fig
