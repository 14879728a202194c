"""Attention circuits of a finished run, read from its metrics.csv, against chance.

The study's two circuits live at opposite ends of the model: name -> name in the first
layers, attribute -> name in the last one. `circuit_summary` reports each where it should
form, at the run's final evaluation, as head mean, best head and the chance level
(uniform causal attention on the same positions; see recall/callbacks/attention.py), so a
reader sees whether a circuit formed or attention merely spread.
"""

from __future__ import annotations

import math
import re

from recall.runs import RunFolder

LAYER_COLUMN = re.compile(r"attn/[^/]+/layer(\d+)")


def attention_layers(run: RunFolder) -> list[int]:
    """The layers whose attention-circuit metrics (attn/<metric>/layer<l>) the run logged."""
    matches = (LAYER_COLUMN.fullmatch(c) for c in run.columns("attn/"))
    return sorted({int(m.group(1)) for m in matches if m})


def first_layers(n_layer: int) -> int:
    """How many first layers the name -> name circuit is looked for in: ceil(L / 4)."""
    return math.ceil(n_layer / 4)


def circuit_summary(run: RunFolder) -> dict[str, dict[str, dict[str, float | None]]]:
    """At the final evaluation, {metric: {"layer<l>": {mean, best, chance}}}: name_to_name
    for the first ceil(L/4) layers, attr_to_name and attr_to_text for the last layer;
    {} when the run logged no attention metrics. A value the run did not log (runs from
    before best/chance were logged) is None."""
    layers = attention_layers(run)
    if not layers:
        return {}
    where = {
        "name_to_name": layers[: first_layers(len(layers))],
        "attr_to_name": layers[-1:],
        "attr_to_text": layers[-1:],
    }
    return {
        metric: {f"layer{layer}": _at_end(run, f"attn/{metric}/layer{layer}") for layer in shown}
        for metric, shown in where.items()
    }


def _at_end(run: RunFolder, column: str) -> dict[str, float | None]:
    """Head mean, best head and chance level of one layer's metric at its last evaluation."""
    return {
        stat: _final(run, column if stat == "mean" else f"{column}/{stat}")
        for stat in ("mean", "best", "chance")
    }


def _final(run: RunFolder, column: str) -> float | None:
    values = run.curve(column)[1]
    return float(values[-1]) if len(values) else None
