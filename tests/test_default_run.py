"""The README's default run, end to end (slow: about four minutes on 2 CPU cores)."""

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
    assert stats_end is not None and onset is not None and stats_end < onset
    # statistics: the loss fell from far above the baseline to it, knowing nobody yet
    assert loss[0] > 2 * phases["baseline"] and acc[steps == stats_end][0] < 0.05
    # plateau: near the baseline throughout, accuracy still close to zero
    plateau = (steps >= stats_end) & (steps < onset)
    assert abs(loss[plateau] / phases["baseline"] - 1).max() < 0.06
    assert acc[plateau].max() < 0.1
    # knowledge acquisition: facts are learned, on held-out frames that are new wordings
    # for each individual (0.8: the target set with the faithful corpus; 0.879 measured)
    assert phases["final_attr_acc"] >= 0.8
