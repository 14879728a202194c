"""Checkpoint analyses: every metric on inputs with a known answer, then recall-analyze
end to end on a small trained run."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from recall.analysis.activations import residual_stream
from recall.analysis.crosscoder import CrosscoderConfig, emergence, train_crosscoder
from recall.analysis.probes import probe_accuracy, split_individuals
from recall.analysis.similarity import linear_cka, svcca
from recall.analysis.snapshots import snapshots
from recall.analysis.trajectories import (
    CLASSES,
    ROLES,
    TrajectoryCriterion,
    classify,
    t_critical,
    token_roles,
)
from recall.analyze import analyze, main
from recall.errors import ConfigError
from recall.model.gpt import GPT, GPTConfig


def gaussian(n: int, d: int, seed: int) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def rotation(d: int, seed: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(gaussian(d, d, seed))
    return q


def test_cka_is_one_for_a_rotated_and_scaled_copy_and_low_for_unrelated_inputs():
    x = gaussian(500, 32, 0)
    assert linear_cka(x, 3.0 * x @ rotation(32, 1)) == pytest.approx(1.0, abs=1e-9)
    assert linear_cka(x, x[:, :16]) < 0.9  # dropping half the directions is visible
    assert linear_cka(x, gaussian(500, 32, 2)) < 0.15


def test_svcca_sees_through_any_invertible_linear_map():
    x = gaussian(2000, 16, 0)
    mixed = x @ gaussian(16, 16, 1) + 5.0
    assert svcca(x, mixed) == pytest.approx(1.0, abs=1e-6)
    assert svcca(x, gaussian(2000, 16, 2)) < 0.15


def test_probe_reads_a_linear_code_and_stays_at_chance_on_random_labels():
    x = gaussian(3000, 24, 0)
    planted = (x @ gaussian(24, 10, 1)).argmax(1)  # a linear function of x: readable
    random = torch.randint(0, 10, (3000,), generator=torch.Generator().manual_seed(2))
    train, test = split_individuals(3000, 0.25, seed=0)
    assert probe_accuracy(x[train], planted[train], x[test], planted[test], 10) > 0.9
    assert probe_accuracy(x[train], random[train], x[test], random[test], 10) < 0.15


def test_split_keeps_every_individual_on_one_side():
    train, test = split_individuals(100, 0.25, seed=3)
    assert len(test) == 25 and not set(train) & set(test) and len(train) + len(test) == 100


def test_residual_stream_ends_in_what_the_head_reads():
    model = GPT(GPTConfig(vocab_size=40, max_len=16, n_layer=2, n_head=2, d_model=16)).eval()
    tokens = torch.randint(1, 40, (5, 16))
    rows, cols = torch.tensor([0, 4, 4, 2]), torch.tensor([3, 0, 15, 9])
    stream = residual_stream(model, tokens, rows, cols, batch_size=2)  # chunks split rows
    assert stream.shape == (3, 4, 16)
    with torch.no_grad():
        logits, _ = model(tokens)
        torch.testing.assert_close(model.head(model.ln_f(stream[-1])), logits[rows, cols])


def test_t_critical_matches_the_tables():
    assert t_critical(0.05, 10) == pytest.approx(2.228, abs=2e-3)
    assert t_critical(0.01, 5) == pytest.approx(4.032, abs=2e-3)
    assert t_critical(0.05, 1000) == pytest.approx(1.962, abs=2e-3)


def test_planted_curves_land_in_their_classes():
    steps = np.arange(100, 1700, 100)
    t = np.log(steps / steps[0]) / np.log(steps[-1] / steps[0])  # 0 ... 1 in log-step
    noise = np.random.default_rng(0).normal(0, 0.01, (5, len(steps)))
    curves = {
        "stagnated": 3.0 * (1 + 0.02 * np.sin(7 * t)),
        "double descent": 3.0 * np.interp(t, [0, 0.3, 0.6, 1], [1, 0.5, 0.9, 0.3]),
        "downward": 3.0 * (1 - 0.5 * t),
        "upward": 3.0 * (1 + 0.8 * t),
        "other": 3.0 * (1 + 0.3 * np.sin(np.pi * t)),  # a rise and a fall back: no trend
    }
    losses = np.stack([curves[name] for name in CLASSES]) * (1 + noise)
    got = classify(steps, losses, TrajectoryCriterion(band=0.1, alpha=0.05))
    assert [CLASSES[c] for c in got] == list(CLASSES)


def test_token_roles_mark_names_values_and_template_words(corpus):
    batch = corpus.evaluation_batch(np.arange(10), np.random.default_rng(0))
    roles = token_roles(batch)
    assert ((roles == 2) == (batch.value_attr[:, 1:].numpy() >= 0)).all()
    assert ((roles == -1) == (batch.tokens[:, 1:].numpy() == 0)).all()
    name_tokens = (batch.name_spans[..., 1] - batch.name_spans[..., 0]).sum(1).numpy()
    assert ((roles == 0).sum(1) == name_tokens).all()  # every token of every name mention
    assert (name_tokens >= 3 * corpus.n_attributes).all()


def test_analyze_writes_tables_and_figures(pretrained, tmp_path, monkeypatch):
    run = copy_of(pretrained, tmp_path)
    out = analyze(run)
    steps = [s.step for s in snapshots(run)]
    with (out / "similarity.csv").open() as f:
        rows = list(csv.DictReader(f))
    n_layers = 3  # embeddings + 2 blocks
    assert len(rows) == n_layers * len(steps) * (len(steps) + 1) // 2
    same = [r for r in rows if r["step_a"] == r["step_b"]]
    assert all(float(r["cka"]) == pytest.approx(1.0) for r in same)
    with (out / "probes.csv").open() as f:
        probes = list(csv.DictReader(f))
    assert len(probes) == n_layers * len(steps) * 6
    assert all(0 <= float(r["accuracy"]) <= 1 for r in probes)
    with (out / "token_classes.csv").open() as f:
        classes = list(csv.DictReader(f))
    for split in ("seen", "unseen"):
        for role in ROLES:
            shares = [
                float(r["share"]) for r in classes if (r["split"], r["role"]) == (split, role)
            ]
            assert sum(shares) == pytest.approx(1.0)
    with (out / "crosscoder.csv").open() as f:
        features = list(csv.DictReader(f))
    assert features and {int(r["emergence_step"]) for r in features} <= set(steps)
    for stem in ("tokens", "similarity", "probes", "crosscoder"):
        assert (out / f"{stem}.png").stat().st_size > 0 and (out / f"{stem}.pdf").exists()


def test_unknown_analysis_is_a_one_line_error(pretrained, capsys):
    with pytest.raises(SystemExit) as stopped:
        main([str(pretrained.path), "--only", "tea_leaves"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "recall-analyze: error: unknown analysis 'tea_leaves' "
        "(known: tokens, similarity, probes, crosscoder)"
    )


def copy_of(run, tmp_path):
    """Analyses write into the run folder; the session's pretrained run must stay clean."""
    import shutil

    from recall.runs import RunFolder

    target = tmp_path / "run"
    shutil.copytree(run.path, target)
    return RunFolder(target)


def test_crosscoder_recovers_planted_features_and_when_they_appear():
    """Six sparse features in 16 dimensions, each present from a known checkpoint on."""
    g = torch.Generator().manual_seed(0)
    n, d, steps = 4000, 16, [0, 100, 200, 300, 400]
    directions = torch.nn.functional.normalize(torch.randn(6, d, generator=g), dim=1)
    appears = [0, 0, 1, 2, 3, 4]  # index of the first checkpoint that has feature j
    codes = (torch.rand(n, 6, generator=g) < 0.15) * (0.5 + torch.rand(n, 6, generator=g))
    present = torch.tensor([[float(c >= a) for a in appears] for c in range(len(steps))])
    x = torch.einsum("nj,cj,jd->ncd", codes, present, directions)
    x = x + 0.01 * torch.randn(x.shape, generator=g)

    model = train_crosscoder(x, CrosscoderConfig())
    norms = model.decoder_norms().detach()
    found = emergence(norms, steps)
    final = torch.nn.functional.normalize(model.decoder[-1].detach(), dim=1)  # [latent, d]
    for j, first in enumerate(appears):
        cosine = final @ directions[j]
        latent = int(cosine.argmax())
        assert cosine[latent] > 0.9, f"feature {j} not recovered"
        assert found[latent] == steps[first], f"feature {j} emerges at {found[latent]}"


def test_a_run_without_two_checkpoints_is_refused_before_writing(pretrained, tmp_path):
    run = copy_of(pretrained, tmp_path)
    for checkpoint in snapshots(run)[1:]:
        checkpoint.path.unlink()
    with pytest.raises(ConfigError, match="has 1 step checkpoint"):
        analyze(run)
    assert not (run.path / "analysis").exists()
