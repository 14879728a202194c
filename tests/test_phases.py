import numpy as np
import pytest

from recall.cadence import Cadence
from recall.errors import ConfigError
from recall.phases import PhaseConfig, detect_phases
from recall.plots.phase_plot import phases_figure

BASELINE = 5.0
STEPS = np.arange(0, 2001, 50)


def curve(plateau_end: float | None, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """Fast fall to the baseline by step 200, plateau, then decay after `plateau_end`."""
    loss = BASELINE + 8 * np.exp(-STEPS / 50.0)
    if plateau_end is not None:
        loss = loss - BASELINE * 0.9 * (1 - np.exp(-np.clip(STEPS - plateau_end, 0, None) / 300))
    return loss + np.random.default_rng(seed).normal(0, noise, len(STEPS))


def test_three_phases_found():
    phases = detect_phases(STEPS, curve(1000), BASELINE, PhaseConfig())
    assert 150 <= phases.statistics_end_step <= 250
    assert 1000 <= phases.knowledge_onset_step <= 1150
    assert phases.plateau_steps == phases.knowledge_onset_step - phases.statistics_end_step


def test_noisy_plateau_onset_is_robust():
    found = [
        detect_phases(
            STEPS, curve(1000, noise=0.15, seed=s), BASELINE, PhaseConfig(patience=3)
        ).knowledge_onset_step
        for s in range(20)
    ]
    assert all(950 <= f <= 1250 for f in found), found


def test_single_dip_is_not_knowledge():
    loss = curve(None)
    loss[20] = BASELINE * 0.7  # one bad evaluation in the middle of the plateau
    phases = detect_phases(STEPS, loss, BASELINE, PhaseConfig(patience=2))
    assert phases.statistics_end_step is not None and phases.knowledge_onset_step is None


def test_never_leaving_the_plateau():
    phases = detect_phases(STEPS, curve(None), BASELINE, PhaseConfig())
    assert phases.knowledge_onset_step is None and phases.plateau_steps is None


def test_no_plateau_when_knowledge_comes_at_once():
    phases = detect_phases(STEPS, curve(0), BASELINE, PhaseConfig())
    assert phases.plateau_steps is not None and phases.plateau_steps <= 100


def test_bad_detector_settings():
    with pytest.raises(ConfigError):
        PhaseConfig(patience=0)


def test_cadence_steps():
    assert Cadence(every=100).steps(250) == [0, 100, 200, 250]
    log = Cadence(spacing="log", n_points=10).steps(1000)
    assert log[0] == 0 and log[1] == 1 and log[-1] == 1000 and len(log) <= 10
    assert np.all(np.diff(np.log(log[1:])) > 0)
    with pytest.raises(ConfigError, match="eval.spacing"):
        Cadence(spacing="cubic")
    dense = Cadence(every=100, dense_until=3).steps(250)
    assert dense == [0, 1, 2, 3, 100, 200, 250]
    with pytest.raises(ConfigError, match="eval.dense_until"):
        Cadence(dense_until=-1)


def test_the_phase_plot_shades_the_detectors_band():
    """The figure shows why the boundaries fall where they do: the statistics phase ends
    on entering the band from above, knowledge starts below it."""
    config = PhaseConfig(statistics_tolerance=0.1, knowledge_margin=0.05)
    phases = detect_phases(STEPS, curve(1000), BASELINE, config)
    fig = phases_figure(STEPS, curve(1000), np.zeros(len(STEPS)), phases)
    (band,) = [p for p in fig.axes[0].patches if "phase detector" in p.get_label()]
    low, high = band.get_y(), band.get_y() + band.get_height()
    assert (low, high) == pytest.approx((0.95 * BASELINE, 1.1 * BASELINE))
    assert band.get_label() == "baseline −5% / +10% (phase detector)"
    assert band.get_label() in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_the_phase_plot_shows_a_curve_whose_baseline_is_zero():
    """One individual has a baseline of 0 nats: the loss panel still spans the curve."""
    loss = 3 * np.exp(-STEPS / 100.0)
    phases = detect_phases(STEPS, loss, 0.0, PhaseConfig())
    fig = phases_figure(STEPS, loss, np.ones(len(STEPS)), phases)
    assert fig.axes[0].get_ylim() == pytest.approx((0, 3 * 1.05))


def test_the_phase_plot_leaves_out_a_diverged_evaluation():
    loss = BASELINE + 8 * np.exp(-STEPS / 50.0)
    loss[3] = np.nan
    phases = detect_phases(STEPS, loss, BASELINE, PhaseConfig())
    fig = phases_figure(STEPS, loss, np.zeros(len(STEPS)), phases)
    assert fig.axes[0].get_ylim() == pytest.approx((0, 2 * BASELINE))
