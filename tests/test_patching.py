"""Attention patching: the twin uses the reference's patterns, learns everything else."""

import json

import lightning as L
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from recall.errors import ConfigError
from recall.findings.measures import setting
from recall.model.gpt import GPT, GPTConfig
from recall.model.patching import ReferencePatterns
from recall.train import train
from tests.conftest import TINY_RUN


def test_own_patterns_reproduce_the_plain_forward():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=50, max_len=12, n_layer=2, n_head=2, d_model=32))
    tokens = torch.randint(1, 50, (3, 12))
    plain, _ = model(tokens)
    _, own = model(tokens, return_patterns=True)
    patched, _ = model(tokens, patterns=[p.detach() for p in own])
    torch.testing.assert_close(patched, plain, rtol=1e-5, atol=1e-5)


def test_patterns_carry_no_gradient_to_queries_keys_or_the_reference():
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=50, max_len=12, n_layer=2, n_head=2, d_model=32)
    twin, source = GPT(config), ReferencePatterns(GPT(config))
    tokens = torch.randint(1, 50, (3, 12))
    logits, _ = twin(tokens, patterns=source(tokens, step=0))
    F.cross_entropy(logits.flatten(0, 1), tokens.flatten()).backward()
    d = config.d_model
    for block in twin.blocks:
        grad = block.attn.qkv.weight.grad
        assert grad[: 2 * d].abs().max() == 0  # queries and keys: nothing to learn
        assert grad[2 * d :].abs().max() > 0  # values learn
    assert all(p.grad is None and not p.requires_grad for p in source.model.parameters())
    assert source(tokens, step=0) is not None and ReferencePatterns(twin, 5)(tokens, 4) is None


class SelfPatching(L.Callback):
    """Patches the model with its own live patterns: the patching path, changing nothing."""

    def on_fit_start(self, trainer, module) -> None:
        module.pattern_source = lambda tokens, step: module.model(tokens, return_patterns=True)[1]


def test_patching_with_own_patterns_changes_nothing(make_cfg):
    common = [*TINY_RUN, "trainer.max_steps=60", "eval.every=20", "callbacks=none"]
    plain = train(make_cfg(*common, run="plain"))
    patched = train(make_cfg(*common, run="patched"), callbacks=[SelfPatching()])
    for metric in ("seen/attr_loss", "train/loss"):
        steps, values = patched.curve(metric)
        plain_steps, plain_values = plain.curve(metric)
        assert steps.tolist() == plain_steps.tolist()
        np.testing.assert_allclose(values, plain_values, rtol=1e-4)


def test_an_unpatched_twin_trains_as_its_reference_to_the_last_digit(make_cfg):
    """recall-reproduce compares the late twin with the reference itself: the twin's
    experiment (no dynamics callbacks, fewer checkpoints) must not change training."""
    common = [*TINY_RUN, "trainer.max_steps=60", "eval.every=20"]
    reference = train(make_cfg(*common, "checkpoint.every_n_steps=20", run="reference"))
    twin = train(make_cfg("experiment=patching", *common, run="twin"))
    assert setting(twin, "callbacks.attention.enabled") is False  # the experiment's callbacks
    for metric in ("train/loss", "seen/attr_loss", "seen/attr_acc"):
        np.testing.assert_array_equal(twin.curve(metric)[1], reference.curve(metric)[1])


def test_post_plateau_patterns_shorten_the_plateau(pretrained, make_cfg):
    common = [
        *TINY_RUN,
        "trainer.max_steps=200",
        "eval.every=25",
        "callbacks=none",
        f"patching.run={pretrained.path}",
    ]
    control = train(make_cfg(*common, run="control"))
    twin = train(make_cfg(*common, "patching.step=300", run="twin"))
    onset = {
        name: json.loads(run.phases.read_text())["knowledge_onset_step"]
        for name, run in (("control", control), ("twin", twin))
    }
    assert onset["twin"] is not None
    assert onset["control"] is None or onset["twin"] < onset["control"], onset


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["patching.step=100"], "patching.step needs patching.run"),
        (["patching.step=150", "patching.run={run}"], "has no checkpoint at that step"),
        (["patching.step=100", "patching.run={run}", "seed=1"], "another corpus"),
        (["patching.step=100", "patching.run={run}", "model.d_model=32"], "another model shape"),
    ],
)
def test_bad_patching_config_is_refused(pretrained, make_cfg, tmp_path, overrides, message):
    overrides = [o.format(run=pretrained.path) for o in overrides]
    with pytest.raises(ConfigError, match=message):
        train(make_cfg(*TINY_RUN, "trainer.max_steps=10", *overrides))
    assert not (tmp_path / "run").exists()
