"""Circuit summaries and the attention figure, on run folders written by hand."""

import csv

import pytest

from recall.circuits import attention_layers, circuit_summary
from recall.plots.dynamics import CHANCE_NOTE, attention_figure
from recall.runs import RunFolder

METRICS = ("name_to_name", "attr_to_name", "attr_to_text")
STATS = {"mean": 0.1, "best": 0.2, "chance": 0.3}


def value(metric: str, layer: int, stat: str) -> float:
    """A final value that says which column it came from."""
    return 10 * layer + METRICS.index(metric) + STATS[stat]


def fake_run(tmp_path, n_layer: int, chance: bool = True) -> RunFolder:
    """A metrics.csv like the attention callback's: per layer the head mean, best, chance
    and two heads, plus entropy; a training row between the two evaluations."""
    columns = ["step", "train/loss"]
    for layer in range(n_layer):
        for metric in METRICS:
            key = f"attn/{metric}/layer{layer}"
            columns += [key, f"{key}/best", *[f"{key}/chance"] * chance]
            columns += [f"{key}/head0", f"{key}/head1"]
        columns += [f"attn/entropy/layer{layer}", f"attn/entropy/layer{layer}/head0"]
    final = {"step": 100}
    for column in columns[2:]:
        metric, layer, *stat = column.split("/")[1:]
        stat = stat[0] if stat and stat[0] in STATS else "mean"
        final[column] = value(metric, int(layer[5:]), stat) if metric in METRICS else 0.5
    with (tmp_path / "metrics.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerow(dict.fromkeys(columns[2:], 0.0) | {"step": 0})
        writer.writerow({"step": 50, "train/loss": 3.0})
        writer.writerow(final)
    return RunFolder(tmp_path)


@pytest.mark.parametrize(("n_layer", "first"), [(1, [0]), (4, [0]), (5, [0, 1]), (8, [0, 1])])
def test_summary_reads_name_to_name_in_the_first_quarter_and_recall_in_the_last(
    tmp_path, n_layer, first
):
    summary = circuit_summary(fake_run(tmp_path, n_layer))
    last = n_layer - 1
    shown = {"name_to_name": first, "attr_to_name": [last], "attr_to_text": [last]}
    assert summary.keys() == shown.keys()
    for metric, layers in shown.items():
        assert list(summary[metric]) == [f"layer{layer}" for layer in layers]
        for layer in layers:
            stats = {stat: value(metric, layer, stat) for stat in STATS}
            assert summary[metric][f"layer{layer}"] == pytest.approx(stats)


def test_summary_of_a_run_without_attention_metrics_is_empty(tmp_path):
    (tmp_path / "metrics.csv").write_text("step,seen/attr_loss\n0,5.0\n")
    assert circuit_summary(RunFolder(tmp_path)) == {}


def test_summary_of_a_run_logged_before_chance_levels_says_none(tmp_path):
    summary = circuit_summary(fake_run(tmp_path, 2, chance=False))
    assert summary["attr_to_name"]["layer1"]["chance"] is None
    assert summary["attr_to_name"]["layer1"]["best"] == pytest.approx(11.2)


def test_layers_are_read_from_head_means_only(tmp_path):
    assert attention_layers(fake_run(tmp_path, 3)) == [0, 1, 2]


def test_attention_figure_draws_each_chance_level_dotted_in_its_colour(tmp_path):
    fig = attention_figure(fake_run(tmp_path, 2), None)
    for ax in fig.axes:
        solid = {line.get_color() for line in ax.lines if line.get_linestyle() == "-"}
        dotted = [line.get_color() for line in ax.lines if line.get_linestyle() == ":"]
        assert len(dotted) == 3 and set(dotted) < solid  # none for entropy
    legend = [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
    assert legend[-1] == CHANCE_NOTE
