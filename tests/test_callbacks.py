"""Dynamics callbacks on hand-made inputs with known answers."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from recall.callbacks.attention import circuit_metrics
from recall.callbacks.phases import PhaseTracker
from recall.metrics import AttributeScores, attribute_scores
from recall.phases import PhaseConfig


def planted_patterns(batch, n_layer=2, n_head=3):
    """Causal-uniform attention, except at the last name token (0.3 on each of the other
    two name tokens) and at the position predicting a value (0.6 on the first name
    token of its sentence, 0.3 on itself, 0.1 on the begin token)."""
    B, L = batch.tokens.shape
    pattern = torch.ones(L, L).tril()
    pattern = (pattern / pattern.sum(-1, keepdim=True)).repeat(B, 1, 1)
    for b in range(B):
        for (s, _), (v, _) in zip(
            batch.name_spans[b].tolist(), batch.value_spans[b].tolist(), strict=True
        ):
            pattern[b, s + 2] = 0
            pattern[b, s + 2, [s, s + 1]] = 0.3
            pattern[b, s + 2, s + 2] = 0.4
            pattern[b, v - 1] = 0
            pattern[b, v - 1, s] = 0.6
            pattern[b, v - 1, v - 1] = 0.3
            pattern[b, v - 1, 0] = 0.1
    return [pattern[:, None].expand(B, n_head, L, L) for _ in range(n_layer)]


def test_circuit_metrics_recover_planted_attention(corpus):
    batch = corpus.evaluation_batch(np.arange(8), np.random.default_rng(0))
    metrics = circuit_metrics(planted_patterns(batch), batch)
    assert metrics["name_to_name"].shape == (2, 3)
    torch.testing.assert_close(metrics["name_to_name"], torch.full((2, 3), 0.6))
    torch.testing.assert_close(metrics["attr_to_name"], torch.full((2, 3), 0.6))
    torch.testing.assert_close(metrics["attr_to_text"], torch.full((2, 3), 0.3))


def test_uniform_attention_has_normalised_entropy_one(corpus):
    batch = corpus.evaluation_batch(np.arange(4), np.random.default_rng(1))
    B, L = batch.tokens.shape
    uniform = torch.ones(L, L).tril()
    uniform = (uniform / uniform.sum(-1, keepdim=True)).expand(B, 1, L, L)
    entropy = circuit_metrics([uniform], batch)["entropy"]
    torch.testing.assert_close(entropy, torch.ones(1, 1))


def test_confidence_and_entropy_of_a_known_prediction():
    # one two-token value; first token predicted with p = 0.5 (two-way tie), second sure
    tokens = torch.tensor([[1, 2, 3]])
    value_attr = torch.tensor([[-1, 0, 0]])
    logits = torch.full((1, 3, 4), -1e4)
    logits[0, 0, 2] = logits[0, 0, 3] = 0.0
    logits[0, 1, 3] = 0.0
    scores = attribute_scores(logits, tokens, value_attr, n_attr=1)
    assert scores.confidence.item() == pytest.approx(0.5)
    assert scores.entropy.item() == pytest.approx(np.log(2) / 2)


def fake_run(step):
    module = SimpleNamespace(global_step=step, hparams=SimpleNamespace(baseline=5.0))
    return SimpleNamespace(loggers=[]), module


def track(tracker, steps, losses):
    phases = []
    for step, loss in zip(steps, losses, strict=True):
        scores = {"seen": AttributeScores(*(torch.tensor([[float(loss)]]),) * 4)}
        phases.append(tracker.on_evaluation(*fake_run(step), scores)["phase"])
    return phases


def test_phase_tracker_follows_the_phases_live_and_survives_resume():
    steps = list(range(0, 1000, 100))
    losses = [13, 8, 5.1, 5.0, 5.05, 4.0, 3.0, 2.0, 1.0, 0.5]
    tracker = PhaseTracker(PhaseConfig(patience=2))
    assert track(tracker, steps, losses) == [0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
    assert tracker.marked == {"plateau": 200, "knowledge": 500}
    resumed = PhaseTracker(PhaseConfig(patience=2))
    resumed.load_state_dict(
        tracker.state_dict() | {"steps": steps[:5], "losses": losses[:5], "accs": tracker.accs[:5]}
    )
    assert track(resumed, steps[5:], losses[5:]) == [1, 2, 2, 2, 2]
