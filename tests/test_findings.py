"""Findings: the interval and verdict, and each effect on run folders with known curves."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from omegaconf import OmegaConf

from recall.config import compose
from recall.data.distributions import frequency_buckets, sampling_weights
from recall.findings import FINDINGS
from recall.findings.base import Measurement, t_interval, t_quantile_975, verdict
from recall.findings.celebrities import CELEBRITIES, CELEBRITY_RUN
from recall.findings.hallucination import Hallucination, rise_step
from recall.findings.imbalance import Imbalance
from recall.findings.measures import relative_shortening
from recall.findings.report import interval
from recall.findings.three_phases import ThreePhases, plateau
from recall.runs import RunFolder
from recall.settings import validate


def test_t_interval_matches_the_textbook_numbers():
    mean, (low, high) = t_interval([1.0, 2.0, 3.0])  # sd 1, n 3: t(2) = 4.303
    assert mean == 2.0
    assert (low, high) == pytest.approx((2 - 4.303 / 3**0.5, 2 + 4.303 / 3**0.5))
    assert np.isnan(t_interval([1.0])[1]).all()  # one seed: no interval
    # beyond the table the expansion continues it: t(40) = 2.021, t(120) = 1.980
    assert t_quantile_975(40) == pytest.approx(2.021, abs=2e-3)
    assert t_quantile_975(120) == pytest.approx(1.980, abs=1e-3)


def test_t_interval_covers_the_true_mean_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    for n in (3, 5):
        covered = [
            low <= 0.3 <= high
            for low, high in (t_interval(rng.normal(0.3, 2.0, n))[1] for _ in range(4000))
        ]
        assert np.mean(covered) == pytest.approx(0.95, abs=0.012)


def test_verdict_follows_the_interval_alone():
    assert verdict((0.1, 0.4), 0.0) == "holds"
    assert verdict((-0.4, -0.1), 0.0) == "fails"
    assert verdict((-0.1, 0.4), 0.0) == "inconclusive"
    assert verdict((float("nan"), float("nan")), 0.0) == "inconclusive"
    assert verdict((-0.29, -0.2), -0.3) == "holds"  # negative thresholds: distances


def test_the_report_says_when_a_seed_is_left_out_of_the_interval():
    finding = Hallucination()
    nan = float("nan")

    def shown(*effects):
        return interval(finding.judge({s: Measurement(e, "") for s, e in enumerate(effects)}))

    assert shown(-1.0, -2.0, -3.0) == "-2 [-4.48, 0.484]"
    assert shown(-1.0, nan, -3.0) == "-2 [-14.7, 10.7] over 2 of 3 seeds"
    assert shown(-1.0, nan, nan) == "-1 (no interval: 1 of 3 seeds)"
    assert shown(-1.0) == "-1 (no interval: 1 seed)"


def test_every_finding_is_complete_and_ids_are_the_issues():
    ids = [f.id for f in FINDINGS]
    assert ids == [
        "three_phases", "plateau_scaling", "attribute_to_name", "name_to_name",
        "patching_late", "patching_early", "imbalance", "celebrities", "warmup",
        "hallucination", "confidence", "forgetting", "replay_initial_drop", "replay_final",
        "attention_stability",
    ]  # fmt: skip
    for finding in FINDINGS:
        assert finding.title and finding.study and finding.effect and finding.why
        assert finding.min_seeds >= 3 and finding.runs()
    assert {f.id for f in FINDINGS if f.min_seeds >= 5} == {"three_phases", "plateau_scaling"}


def fake_run(path, curves: dict[str, list[float]], steps, baseline=5.0, **config) -> RunFolder:
    """A run folder holding only what the findings read: metrics.csv, the baseline and the
    detector's settings."""
    path.mkdir(parents=True)
    with (path / "metrics.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", *curves])
        writer.writerows([s, *(c[i] for c in curves.values())] for i, s in enumerate(steps))
    (path / "corpus.json").write_text(json.dumps({"baseline": baseline}))
    settings = {"statistics_tolerance": 0.05, "knowledge_margin": 0.05, "patience": 2}
    OmegaConf.save(OmegaConf.create({"phases": settings, **config}), path / "config.yaml")
    (path / "phases.json").write_text("{}")
    return RunFolder(path)


STEPS = list(range(0, 1100, 50))


def phase_curve(
    stats_end: int, onset: int, plateau_level: float = 1.0, steps: list[int] = STEPS
) -> list[float]:
    """Loss / baseline: 2 → the plateau level at stats_end, flat, then falling after onset."""
    return [
        2 - (2 - plateau_level) * s / stats_end
        if s < stats_end
        else plateau_level
        if s < onset
        else 0.9 - (s - onset) / 2000
        for s in steps
    ]


def test_three_phases_counts_only_a_flat_plateau(tmp_path):
    def effect(name, loss, acc=0.0):
        run = fake_run(
            tmp_path / name,
            {"seen/attr_loss": [5 * x for x in loss], "seen/attr_acc": [acc] * len(STEPS)},
            STEPS,
        )
        assert plateau(run).complete == (name == "flat")
        return ThreePhases().measure({"reference": run}).effect

    assert effect("flat", phase_curve(200, 800)) == pytest.approx((800 - 200) / 200)
    # the same boundaries, but the loss leaves the band (above it) at step 500
    bumped = [
        1.08 if s in (500, 550) else x for s, x in zip(STEPS, phase_curve(200, 800), strict=True)
    ]
    assert effect("bumped", bumped) == pytest.approx((500 - 200) / 200)
    assert effect("knowing", phase_curve(200, 800), acc=0.2) == 0.0  # accuracy on the plateau
    assert effect("no_onset", [2.0 if s < 200 else 1.0 for s in STEPS]) == 0.0


def test_hallucination_is_judged_by_the_timing_of_the_rise(tmp_path):
    steps = np.array(STEPS)
    unseen = np.where(steps < 600, 5.3, 5.3 + (steps - 600) / 100)  # floor, then a rise
    assert rise_step(steps, unseen, 200, 0.25, 2) == 650  # 0.25 above the floor from 650 on

    def effect(name, rise_from, onset=600, steps=STEPS):
        loss = [5 * x for x in phase_curve(200, onset, steps=steps)]
        unseen = [5.3 if s < rise_from else 5.3 + (s - rise_from) / 100 for s in steps]
        curves = {
            "seen/attr_loss": loss,
            "unseen/attr_loss": unseen,
            "unseen/baseline": [5.0] * len(steps),
        }
        run = fake_run(tmp_path / name, curves, steps)
        return Hallucination().measure({"reference": run}).effect

    assert effect("on_time", 600) == -1.0  # 0.25 nats above the floor one evaluation later
    assert effect("early", 250) == -6.0  # detected at 300, 6 evaluations before the onset
    assert effect("never", 5000) == -(1050 - 600) / 50  # censored at the run's end
    # a run that ends 2 evaluations after its onset cannot tell a late rise from none
    assert np.isnan(effect("too_soon", 5000, onset=950))
    # evaluations, not steps: every 10 steps up to 400, then every 50 (dense_until)
    uneven = [*range(0, 400, 10), *range(400, 1051, 50)]
    assert effect("uneven", 250, steps=uneven) == -(uneven.index(600) - uneven.index(280))


def test_relative_shortening_counts_a_censored_plateau_as_its_length(tmp_path):
    control = fake_run(
        tmp_path / "c", {"seen/attr_loss": [5 * x for x in phase_curve(200, 800)]}, STEPS
    )
    treated = fake_run(
        tmp_path / "t", {"seen/attr_loss": [5 * x for x in phase_curve(200, 400)]}, STEPS
    )
    never = fake_run(tmp_path / "n", {"seen/attr_loss": [10.0] * 5 + [5.0] * 17}, STEPS)
    assert relative_shortening(control, treated) == pytest.approx(0.5)
    assert relative_shortening(never, control) == pytest.approx(1 - 800 / 1050)  # lower bound


def test_imbalance_takes_the_smaller_shortening_over_sizes(tmp_path):
    def run(name, onset, **config):
        curves = {
            "seen/attr_loss": [5 * x for x in phase_curve(200, onset)],
            "seen/attr_acc/head": [0.5] * len(STEPS),
            "seen/attr_acc/tail": [0.1] * len(STEPS),
        }
        return fake_run(tmp_path / name, curves, STEPS)

    runs = {
        "size_1000": run("u1", 600),
        "power_law_1000": run("p1", 450),  # 0.25 shorter
        "size_2000": run("u2", 800),
        "power_law_2000": run("p2", 700),  # 0.125 shorter
    }
    measured = Imbalance().measure(runs)
    assert measured.effect == pytest.approx(0.125)
    assert "head 0.50, tail 0.10" in measured.detail


def test_the_celebrity_run_reports_the_celebrities_as_its_head():
    cfg = compose("train", CELEBRITY_RUN.resolve({}))
    loader = validate(cfg).loader
    weights = sampling_weights(loader.distribution, cfg.data.n_individuals)
    head = frequency_buckets(weights, loader.frequency_buckets) == 0
    celebrities = weights == weights.max()
    assert celebrities.sum() == CELEBRITIES and np.array_equal(head, celebrities)
