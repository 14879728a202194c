"""Figures of `recall-analyze`: similarity between checkpoints and probes over training."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from recall.analysis.trajectories import CLASSES
from recall.phases import Phases
from recall.plots.style import (
    PAGE,
    STEP_LABEL,
    figure,
    label_phases,
    mark_phases,
    panel_letters,
    paper_style,
)


def layer_name(layer: int) -> str:
    return "embeddings" if layer == 0 else f"after block {layer}"


def similarity_figure(steps: list[int], cka: np.ndarray, phases: Phases | None) -> Figure:
    """Top: linear CKA between every pair of checkpoints, one heatmap per layer ([layer,
    step, step] array). Bottom: each layer's CKA to the final checkpoint over training."""
    n_layers = cka.shape[0]
    with paper_style():
        fig = Figure(figsize=(PAGE, 4.2), layout="constrained")
        top, bottom = fig.subfigures(2, 1, height_ratios=[1.1, 1])
        heatmaps = top.subplots(1, n_layers, squeeze=False)[0]
        ticks = np.linspace(0, len(steps) - 1, min(len(steps), 5)).round().astype(int)
        for layer, ax in enumerate(heatmaps):
            image = ax.imshow(cka[layer], vmin=0, vmax=1, cmap="viridis", origin="lower")
            ax.set_title(layer_name(layer))
            ax.set_xticks(ticks, [steps[i] for i in ticks], rotation=90)
            ax.set_yticks(ticks, [steps[i] for i in ticks] if layer == 0 else [])
            ax.set_xlabel(STEP_LABEL)
        heatmaps[0].set_ylabel(STEP_LABEL)
        top.colorbar(image, ax=list(heatmaps), label="linear CKA", shrink=0.8)
        ax = bottom.subplots()
        mark_phases(ax, phases, steps[-1])
        for layer in range(n_layers):
            ax.plot(steps, cka[layer, :, -1], marker=".", label=layer_name(layer))
        ax.set_xlim(0, steps[-1])
        ax.set_ylim(0, 1.02)
        if phases is not None:
            label_phases(ax, phases, steps[-1], y=0.15)
        ax.set_xlabel(STEP_LABEL)
        ax.set_ylabel("CKA to the final checkpoint")
        ax.legend(loc="lower right", ncols=2)
    return fig


def probes_figure(
    steps: list[int], accuracy: np.ndarray, chance: float, phases: Phases | None
) -> Figure:
    """Probe accuracy (mean over attributes, [layer, step] array): a layer x step heatmap
    and one curve per layer, phases marked, chance as a dashed line."""
    n_layers = accuracy.shape[0]
    with paper_style():
        fig, (heat, curves) = figure(1, 2, width=PAGE, height=2.4)
        edges = np.concatenate([[steps[0]], (np.array(steps[1:]) + steps[:-1]) / 2, [steps[-1]]])
        image = heat.pcolormesh(edges, np.arange(n_layers + 1) - 0.5, accuracy, cmap="viridis")
        for boundary in (phases.statistics_end_step, phases.knowledge_onset_step) if phases else ():
            if boundary is not None:
                heat.axvline(boundary, color="white", lw=0.8, ls=":")
        heat.set_yticks(range(n_layers), [layer_name(i) for i in range(n_layers)])
        heat.set_xlabel(STEP_LABEL)
        fig.colorbar(image, ax=heat, label="probe accuracy (held-out individuals)")
        mark_phases(curves, phases, steps[-1])
        for layer in range(n_layers):
            curves.plot(steps, accuracy[layer], marker=".", label=layer_name(layer))
        curves.axhline(chance, color="0.3", ls="--", lw=1, label="chance")
        curves.set_xlim(0, steps[-1])
        curves.set_xlabel(STEP_LABEL)
        curves.set_ylabel("probe accuracy")
        curves.legend(loc="upper left")
    return fig


CLASS_COLORS = {
    "stagnated": "0.55",
    "double descent": "C4",
    "downward": "C0",
    "upward": "C3",
    "other": "0.8",
}


def trajectories_figure(
    steps: list[int],
    curves: dict[tuple[str, str], np.ndarray],
    shares: dict[tuple[str, str], np.ndarray],
    phases: Phases | None,
) -> Figure:
    """(a) Mean token loss per trajectory class, seen (solid) and unseen (dashed)
    individuals; (b) the classes' shares for each token role and split."""
    with paper_style():
        fig, (ax_curves, ax_shares) = figure(1, 2, width=PAGE, height=2.6)
        mark_phases(ax_curves, phases, steps[-1])
        for (split, name), curve in curves.items():
            ls = "-" if split == "seen" else "--"
            label = name if split == "seen" else None
            ax_curves.plot(steps, curve, ls=ls, color=CLASS_COLORS[name], label=label)
        ax_curves.set_xlim(0, steps[-1])
        ax_curves.set_xlabel(STEP_LABEL)
        ax_curves.set_ylabel("mean token loss (nats)")
        ax_curves.set_title("solid: seen, dashed: unseen", fontsize=7)
        ax_curves.legend(loc="upper right")
        labels = [f"{role}, {split}" for split, role in shares]
        left = np.zeros(len(shares))
        for c, name in enumerate(CLASSES):
            widths = np.array([share[c] for share in shares.values()])
            ax_shares.barh(labels, widths, left=left, color=CLASS_COLORS[name], label=name)
            left += widths
        ax_shares.set_xlim(0, 1)
        ax_shares.invert_yaxis()
        ax_shares.set_xlabel("share of tokens")
        panel_letters([ax_curves, ax_shares])
    return fig


def crosscoder_figure(
    steps: list[int], norms: np.ndarray, emerged: np.ndarray, phases: Phases | None
) -> Figure:
    """(a) Each live crosscoder feature's decoder norm over training (scaled to its maximum,
    features sorted by emergence); (b) histogram of emergence steps, phases marked."""
    order = np.argsort(emerged, kind="stable")
    with paper_style():
        fig, (heat, hist) = figure(1, 2, width=PAGE, height=2.4)
        edges = np.concatenate([[steps[0]], (np.array(steps[1:]) + steps[:-1]) / 2, [steps[-1]]])
        image = heat.pcolormesh(
            edges, np.arange(len(order) + 1), norms[:, order].T, cmap="viridis", vmin=0, vmax=1
        )
        heat.set_xlabel(STEP_LABEL)
        heat.set_ylabel("feature (by emergence)")
        fig.colorbar(image, ax=heat, label="decoder norm / its maximum")
        mark_phases(hist, phases, steps[-1])
        hist.hist(emerged, bins=edges, color="C0")
        hist.set_xlim(0, steps[-1])
        hist.set_xlabel("emergence step (norm reaches half its maximum)")
        hist.set_ylabel("features")
        if phases is not None:
            label_phases(hist, phases, steps[-1])
        panel_letters([heat, hist])
    return fig
