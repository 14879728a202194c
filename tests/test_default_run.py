"""The README's default run, end to end (slow: 5 to 15 minutes on 2 CPU cores, AVX-512 or AVX2)."""

import json

import pytest

from recall.train import train


@pytest.mark.slow
def test_default_run_shows_three_phases_and_learns_the_facts(make_cfg):
    run = train(make_cfg("progress_refresh=0"))
    phases = json.loads(run.phases.read_text())
    steps, loss = run.curve("seen/attr_loss")
    _, acc = run.curve("seen/attr_acc")
    stats_end, onset = phases["statistics_end_step"], phases["knowledge_onset_step"]
    assert stats_end is not None and onset is not None
    # statistics: the loss fell from far above the baseline to it, knowing nobody yet
    assert loss[0] > 2 * phases["baseline"] and acc[steps == stats_end][0] < 0.05
    # plateau: at least three times as long as the statistics phase (the target;
    # 225 -> 700 measured), every evaluation on it within 5 % of the baseline and with
    # accuracy at most 0.05
    assert onset >= 3 * stats_end
    plateau = (steps >= stats_end) & (steps < onset)
    assert abs(loss[plateau] / phases["baseline"] - 1).max() <= 0.05
    assert acc[plateau].max() <= 0.05
    # knowledge acquisition: facts are learned, on held-out frames that are new wordings
    # for each individual. 0.346 measured; the target of 0.6 is not reached in
    # this run's 1300 steps (README, "The default run")
    assert phases["final_attr_acc"] >= 0.3
    assert phases["final_attr_loss"] < 0.7 * phases["baseline"]
