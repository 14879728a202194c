"""A few "celebrities" drawn more often shorten the plateau, like power-law sampling."""

from __future__ import annotations

from collections.abc import Sequence

from recall.findings.base import Finding, Measurement, PlannedRun, Runs
from recall.findings.measures import final, onset, relative_shortening, steps_text
from recall.findings.shared_runs import size_run
from recall.plots.comparison import curves_figure

N = 2000
CELEBRITIES, WEIGHT = 100, 10  # 5 % of the population drawn 10 times more often

CELEBRITY_RUN = PlannedRun(
    "celebrities",
    "train",
    (
        "experiment=plateau_vs_n",
        "data/distribution=celebrities",
        f"data.distribution.n={CELEBRITIES}",
        f"data.distribution.weight={WEIGHT}",
        f"data.n_individuals={N}",
        # the head bucket is then the celebrities exactly (the top 5 % of frequency ranks)
        f"data.frequency_buckets=[{CELEBRITIES / N},0.5]",
    ),
    f"{CELEBRITIES} of {N} individuals drawn {WEIGHT} times more often",
)


class Celebrities(Finding):
    id = "celebrities"
    title = "celebrities shorten the plateau"
    study = "a subset of individuals sampled w× more often helps like power-law imbalance"
    effect = f"1 − plateau(celebrities) / plateau(uniform) at N = {N}"
    threshold = 0.0
    why = "any shortening of the plateau against uniform sampling"

    def runs(self) -> Sequence[PlannedRun]:
        return (size_run(N), CELEBRITY_RUN)

    def measure(self, runs: Runs) -> Measurement:
        uniform, celebrities = runs[f"size_{N}"], runs[CELEBRITY_RUN.label]
        return Measurement(
            relative_shortening(uniform, celebrities),
            f"onset {steps_text(onset(celebrities))} against {steps_text(onset(uniform))} "
            f"uniform; at onset (the run's end) accuracy of the celebrities "
            f"{final(celebrities, 'seen/attr_acc/head'):.2f}, of the least frequent half "
            f"{final(celebrities, 'seen/attr_acc/tail'):.2f}",
        )

    def figure(self, runs: Runs):
        group = [runs[f"size_{N}"], runs[CELEBRITY_RUN.label]]
        labels = ["uniform", f"{CELEBRITIES} celebrities × {WEIGHT}"]
        return curves_figure(group, labels, [onset(r) for r in group]), (
            f"Celebrities against uniform sampling (N = {N})."
        )
