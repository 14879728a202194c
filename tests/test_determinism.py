"""Same config, same seed: the same corpus and the same curves, to the last digit, on CPU."""

from recall.train import train
from tests.conftest import TINY_RUN


def test_same_seed_gives_identical_corpus_and_metrics(make_cfg):
    overrides = [*TINY_RUN, "trainer.max_steps=60", "eval.every=20"]
    first = train(make_cfg(*overrides, run="first"))
    second = train(make_cfg(*overrides, run="second"))
    for name in ("corpus.json", "tokenizer.json", "metrics.csv"):
        assert (first.path / name).read_bytes() == (second.path / name).read_bytes(), name
    other = train(make_cfg(*overrides, "seed=1", run="other"))
    assert (
        other.read_json(other.corpus)["fingerprint"] != first.read_json(first.corpus)["fingerprint"]
    )
    assert other.metrics.read_bytes() != first.metrics.read_bytes()
