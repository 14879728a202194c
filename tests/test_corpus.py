import numpy as np
import pytest

from recall.data.templates import MAX_TEMPLATES, TemplateSplit, build_templates
from recall.data.tokenizer import Tokenizer
from recall.errors import ConfigError


def sentence_frames(corpus, batch, b):
    """Per sentence of biography b: (attribute, words before the name, words before the value)."""
    words = [corpus.tokenizer.vocab[i] for i in batch.tokens[b].tolist()]
    frames, start = [], 1
    for name_start, a in sorted((int(batch.name_spans[b, a, 0]), a) for a in range(6)):
        value_start, value_end = batch.value_spans[b, a].tolist()
        frames.append(
            (a, tuple(words[start:name_start]), tuple(words[name_start + 3 : value_start]))
        )
        start = words.index(".", value_end) + 1  # the sentence ends at the first full stop
    return frames


def test_spans_point_at_names_and_values(corpus):
    pop, tok = corpus.population, corpus.tokenizer
    rng = np.random.default_rng(0)
    people = rng.integers(pop.n_seen, size=50)
    batch = corpus.training_batch(people, rng)
    for b, person in enumerate(people):
        for a, attribute in enumerate(pop.attributes):
            s, e = batch.name_spans[b, a].tolist()
            assert tok.decode(batch.tokens[b, s:e].tolist()) == pop.full_name(person)
            s, e = batch.value_spans[b, a].tolist()
            assert tok.decode(batch.tokens[b, s:e].tolist()) == pop.value(person, attribute)
            assert (batch.value_attr[b, s:e] == a).all()
        assert (batch.value_attr[b] >= 0).sum() == sum(
            len(pop.value(person, x).split()) for x in pop.attributes
        )


def test_every_sentence_names_the_individual_before_the_value(corpus):
    batch = corpus.training_batch(np.arange(20), np.random.default_rng(1))
    assert (batch.name_spans[..., 1] <= batch.value_spans[..., 0]).all()
    text = corpus.tokenizer.decode(batch.tokens[0].tolist())
    assert text.count(corpus.population.full_name(0)) == corpus.n_attributes


def test_sentence_order_is_shuffled(corpus):
    batch = corpus.training_batch(np.zeros(600, dtype=int), np.random.default_rng(2))
    first = batch.name_spans[:, :, 0].argmin(dim=1)  # attribute of the first sentence
    counts = np.bincount(first.numpy(), minlength=corpus.n_attributes)
    assert (counts > 600 / corpus.n_attributes * 0.6).all(), counts


def test_fresh_biography_for_every_sequence(corpus):
    batch = corpus.training_batch(np.zeros(8, dtype=int), np.random.default_rng(3))
    assert len({tuple(row.tolist()) for row in batch.tokens}) == 8


def test_training_uses_training_templates_and_evaluation_the_heldout_ones(corpus):
    pop = corpus.population
    people = np.arange(40)
    for make, index in (
        (corpus.training_batch, pop.split.train_index),
        (corpus.evaluation_batch, pop.split.heldout_index),
    ):
        batch = make(people, np.random.default_rng(4))
        n_choices = pop.split.n_train if make == corpus.training_batch else pop.split.heldout
        for b, person in enumerate(people):
            for a, before_name, before_value in sentence_frames(corpus, batch, b):
                templates = corpus.templates[pop.attributes[a]]
                chosen = index(pop.template_offsets[person, a], np.arange(n_choices))
                allowed = {(templates[t].before_name, templates[t].before_value) for t in chosen}
                assert (before_name, before_value) in allowed


def test_template_split_partitions_every_individual():
    split = TemplateSplit(total=25, heldout=5)
    offsets = np.arange(25)
    train = {tuple(split.train_index(o, np.arange(20))) for o in offsets}
    for o in offsets:
        tr = set(split.train_index(o, np.arange(20)).tolist())
        ho = set(split.heldout_index(o, np.arange(5)).tolist())
        assert len(tr) == 20 and len(ho) == 5 and tr.isdisjoint(ho)
    assert len(train) == 25  # the split differs between individuals


def test_templates_are_distinct():
    templates = build_templates(["major", "company"], MAX_TEMPLATES)
    for ts in templates.values():
        assert len(set(ts)) == MAX_TEMPLATES
    with pytest.raises(ConfigError, match="data.templates=26"):
        build_templates(["major"], MAX_TEMPLATES + 1)


def test_tokenizer_round_trips(corpus):
    tok = corpus.tokenizer
    batch = corpus.training_batch(np.arange(5), np.random.default_rng(5))
    for row in batch.tokens:
        text = tok.decode(row.tolist())
        assert tok.encode(text) == [i for i in row.tolist() if i > 1]
    assert tok.decode(tok.encode("In fact, lives in.")) == "In fact, lives in."
    with pytest.raises(KeyError, match="Zebra"):
        Tokenizer(["a"]).encode("a Zebra")


def test_max_len_bounds_every_biography(corpus):
    batch = corpus.training_batch(np.arange(300), np.random.default_rng(6))
    assert ((batch.tokens > 0).sum(1) <= corpus.max_len).all()
    assert (batch.tokens[:, 0] == corpus.tokenizer.bos_id).all()
