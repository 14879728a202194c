"""TensorBoard: the custom-scalars layout (phases first) and the HParams session that lets
`tensorboard --logdir multiruns/<sweep>` compare a sweep's jobs, read back from the files."""

from __future__ import annotations

import json
import re

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2

from recall.hparams import flat_config, log_hparams
from recall.train import train
from tests.conftest import TINY_RUN


def test_flat_config_keeps_numbers_and_writes_the_rest_as_text():
    config = {"seed": 0, "run_dir": "runs/x", "optim": {"lr": 3e-3, "betas": [0.9, 0.95]}}
    config |= {"compile": False, "stop_at_acc": None, "trainer": {"precision": "32-true"}}
    assert dict(flat_config(config)) == {
        "seed": 0,
        "optim.lr": 3e-3,
        "optim.betas": "[0.9, 0.95]",
        "compile": "false",
        "stop_at_acc": "null",
        "trainer.precision": "32-true",
    }


def test_a_finished_run_has_its_hparams_session_and_the_layout(make_cfg):
    run = train(make_cfg(*TINY_RUN, "trainer.max_steps=60", "eval.every=30"))
    summary = json.loads(run.phases.read_text())
    log_hparams(run, {**summary, "statistics_end_step": 30, "knowledge_onset_step": None})
    log_hparams(run, {**summary, "statistics_end_step": 60, "knowledge_onset_step": None})
    assert len(list(run.tensorboard.glob("*.hparams"))) == 1  # the second replaced the first

    events = EventAccumulator(str(run.tensorboard)).Reload()
    content = {
        tag: plugin_data_pb2.HParamsPluginData.FromString(data)
        for tag, data in events.PluginTagToContent("hparams").items()
    }
    experiment = content["_hparams_/experiment"].experiment
    start = content["_hparams_/session_start_info"].session_start_info
    end = content["_hparams_/session_end_info"].session_end_info
    names = [h.name for h in experiment.hparam_infos]
    assert {"data.n_individuals", "model.n_layer", "optim.lr", "schedule.name"} <= set(names)
    assert "run_dir" not in names  # where a run is, not what it is
    assert start.hparams["data.n_individuals"].number_value == 40
    assert start.hparams["data.distribution.name"].string_value == "uniform"
    assert end.status == api_pb2.STATUS_SUCCESS

    metrics = [m.name.tag for m in experiment.metric_infos]
    assert metrics[:3] == [
        "phases/statistics_end_step",
        "phases/knowledge_onset_step",
        "phases/plateau_length",
    ]
    assert {"seen/attr_acc", "seen/attr_loss", "unseen/attr_loss"} <= set(metrics)
    scalars = set(events.Tags()["scalars"])
    assert [(e.step, e.value) for e in events.Scalars("phases/statistics_end_step")] == [(60, 60)]
    assert "phases/knowledge_onset_step" not in scalars  # never reached: an empty cell
    assert set(metrics) - scalars == {"phases/knowledge_onset_step", "phases/plateau_length"}

    assert "custom_scalars__config__" in events.PluginTagToContent("custom_scalars")
    (config,) = events.Tensors("custom_scalars__config__")[-1:]  # a string tensor
    layout = layout_pb2.Layout.FromString(config.tensor_proto.string_val[0])
    titles = [c.title for c in layout.category]
    assert titles[0] == "1 phases" and titles.index("5 circuits per head") > 1
    loss_chart = layout.category[0].chart[0]
    shown = [t for t in scalars if any(re.search(r, t) for r in loss_chart.multiline.tag)]
    assert sorted(shown) == ["baseline", "baseline_uniform", "seen/attr_loss"]
    per_layer = [c.multiline.tag for c in layout.category[1].chart]
    assert not any(re.search(r, "attn/attr_to_name/layer1/head0") for rs in per_layer for r in rs)
