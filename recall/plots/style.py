"""One look for every figure: sized for a paper column, saved as PNG and PDF.

Figures are drawn at their printed size (COLUMN or PAGE wide, in inches) with fonts of
7–8 pt, so they stay readable when a paper shows them at column width; `save` writes the
same figure as a 300-dpi PNG (for READMEs and notebooks) and a vector PDF (for papers).
Figures are plain `matplotlib.figure.Figure`s, outside pyplot's global state: nothing to
close, any backend (a notebook shows one with `display(fig)`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from recall.phases import Phases

COLUMN = 3.4  # inches: one column of a two-column paper
PAGE = 7.0  # inches: the full text width
FORMATS = ("png", "pdf")

RC = {
    "font.size": 7.5,
    "axes.titlesize": 8,
    "axes.labelsize": 7.5,
    "legend.fontsize": 6.5,
    "legend.title_fontsize": 6.5,
    "legend.frameon": False,
    "xtick.labelsize": 6.5,
    "ytick.labelsize": 6.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "lines.linewidth": 1.2,
    "lines.markersize": 3,
    "figure.dpi": 100,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
    "pdf.fonttype": 42,  # TrueType: text stays editable and searchable in the PDF
}

PHASE_COLORS = {"statistics": "#dfe9f3", "plateau": "#f7e7cf", "knowledge acquisition": "#dcefdc"}
SEEN, UNSEEN, BASELINE = "C0", "C1", "0.35"
STEP_LABEL = "training step"


@contextmanager
def paper_style() -> Iterator[None]:
    """Matplotlib settings of every recall figure, for the figures made inside."""
    with plt.rc_context(RC):
        yield


def figure(
    n_rows: int = 1, n_cols: int = 1, *, width: float = COLUMN, height: float, **kw: Any
) -> tuple[Figure, Any]:
    """A figure in the paper style (call inside `paper_style`), with its axes."""
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(n_rows, n_cols, **kw)


def save(fig: Figure, stem: Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Write `fig` as <stem>.png and <stem>.pdf and return the paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(f".{fmt}") for fmt in formats]
    with paper_style():  # resolution, margins and PDF fonts are read when saving
        for path in paths:
            fig.savefig(path)
    return paths


def phase_spans(phases: Phases, end: int) -> list[tuple[str, int, int]]:
    """(phase, first step, last step) of each phase reached; the last runs to `end`.

    The detector finds knowledge onset only after the statistics end, so the known
    boundaries are always a prefix.
    """
    boundaries = (phases.statistics_end_step, phases.knowledge_onset_step)
    starts = [0, *(step for step in boundaries if step is not None)]
    return list(zip(PHASE_COLORS, starts, [*starts[1:], end], strict=False))


def mark_phases(ax: Axes, phases: Phases | None, end: int) -> None:
    """Shade the phases reached and draw their boundaries (dotted) on `ax`."""
    if phases is None:
        return
    for name, lo, hi in phase_spans(phases, end):
        ax.axvspan(lo, hi, color=PHASE_COLORS[name], zorder=0, lw=0)
    for boundary in (phases.statistics_end_step, phases.knowledge_onset_step):
        if boundary is not None:
            ax.axvline(boundary, color="0.45", lw=0.6, ls=":", zorder=1)


MIN_LABEL_WIDTH = 0.12  # axes fraction a phase's name needs at 6 pt in a column-wide panel


def label_phases(ax: Axes, phases: Phases, end: int, y: float = 0.97) -> None:
    """Name each phase at the top of `ax` (axes-fraction height `y`), where its span is
    wide enough for the name (a short statistics phase keeps only its shading)."""
    short = {"statistics": "statistics", "plateau": "plateau", "knowledge acquisition": "knowledge"}
    to_axes = ax.transData + ax.transAxes.inverted()
    for name, lo, hi in phase_spans(phases, end):
        (left, _), (right, _) = to_axes.transform([(lo, 0), (hi, 0)])
        if right - left < MIN_LABEL_WIDTH:
            continue
        ax.text(
            (lo + hi) / 2,
            y,
            short[name],
            ha="center",
            va="top",
            fontsize=6,
            color="0.3",
            transform=ax.get_xaxis_transform(),
        )


def panel_letters(axes: list[Axes]) -> None:
    """(a), (b), … in the top-left corner of each panel, as papers refer to them."""
    for i, ax in enumerate(axes):
        ax.set_title(f"({chr(97 + i)})", loc="left", fontsize=8, fontweight="bold")
