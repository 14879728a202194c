import numpy as np
import pytest
from tokenizers import Tokenizer as HFTokenizer

from recall.data.corpus import Corpus
from recall.data.population import PopulationConfig, generate_population
from recall.data.templates import TemplateSplit
from recall.data.tokenizer import Tokenizer
from tests.conftest import ATTRIBUTES


def between_name_and_value(batch, b, a):
    """Token ids between the end of the name and the start of the value in sentence a."""
    return batch.tokens[b, batch.name_spans[b, a, 1] : batch.value_spans[b, a, 0]].tolist()


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


def test_heldout_biographies_use_wordings_absent_from_the_individuals_training(corpus):
    pop, encode = corpus.population, corpus.tokenizer.encode
    people = np.arange(pop.n_seen)
    heldout = corpus.evaluation_batch(people, np.random.default_rng(4))
    training = corpus.training_batch(people, np.random.default_rng(4))
    for a, attribute in enumerate(pop.attributes):
        wordings = [encode(t.before_value) for t in corpus.templates[attribute]]
        for b, person in enumerate(people):
            offset = pop.template_offsets[person, a]
            train = {tuple(wordings[t]) for t in pop.split.train_index(offset, np.arange(20))}
            test = {tuple(wordings[t]) for t in pop.split.heldout_index(offset, np.arange(5))}
            assert tuple(between_name_and_value(heldout, b, a)) in test - train
            assert tuple(between_name_and_value(training, b, a)) in train - test


def test_biography_text_encodes_to_its_tokens_and_spans(corpus):
    pop, tok = corpus.population, corpus.tokenizer
    people = np.arange(0, pop.n_seen + pop.n_unseen, 7)
    templates, orders = corpus.choose(people, np.random.default_rng(8), heldout=False)
    batch = corpus.build(people, templates, orders)
    for b, person in enumerate(people):
        biography = corpus.text(person, templates[b], orders[b])
        ids = [i for i in batch.tokens[b].tolist() if i != tok.pad_id]
        assert tok.hf.encode(biography.text).ids == ids  # the begin token included
        assert tok.decode(ids) == biography.text
        for fact in biography.facts:
            a = pop.attributes.index(fact.attribute)
            assert (
                biography.text[fact.start : fact.end]
                == fact.value
                == pop.value(person, fact.attribute)
            )
            s, e = batch.value_spans[b, a].tolist()
            assert tok.decode(batch.tokens[b, s:e].tolist()) == fact.value


def test_names_are_several_pieces_and_unique_token_sequences():
    config = PopulationConfig(n_individuals=5000, n_unseen=500, attributes=ATTRIBUTES, seed=1)
    pop = generate_population(config)
    corpus = Corpus(pop)
    sequences = [tuple(corpus.tokenizer.encode(pop.full_name(i))) for i in range(len(pop.name_ids))]
    assert np.mean([len(s) for s in sequences]) >= 4
    assert len(set(sequences)) == len(sequences)
    pieces = [corpus.tokenizer.vocab[i] for s in sequences[:200] for i in s]
    assert any(p.startswith("##") for p in pieces)  # names really are cut into pieces
    assert corpus.tokenizer.unk_id not in {i for s in sequences for i in s}


def test_tokenizer_file_loads_with_hugging_face_tokenizers(corpus, tmp_path):
    corpus.tokenizer.save(tmp_path / "tokenizer.json")
    loaded = HFTokenizer.from_file(str(tmp_path / "tokenizer.json"))
    batch = corpus.training_batch(np.arange(4), np.random.default_rng(9))
    for row in batch.tokens.tolist():
        ids = [i for i in row if i != 0]
        text = loaded.decode(ids, skip_special_tokens=True)
        assert loaded.encode(text).ids == ids


def test_template_split_partitions_every_individual():
    split = TemplateSplit(total=25, heldout=5)
    offsets = np.arange(25)
    train = {tuple(split.train_index(o, np.arange(20))) for o in offsets}
    for o in offsets:
        tr = set(split.train_index(o, np.arange(20)).tolist())
        ho = set(split.heldout_index(o, np.arange(5)).tolist())
        assert len(tr) == 20 and len(ho) == 5 and tr.isdisjoint(ho)
    assert len(train) == 25  # the split differs between individuals


def test_tokenizer_round_trips(corpus):
    tok = corpus.tokenizer
    batch = corpus.training_batch(np.arange(5), np.random.default_rng(5))
    for row in batch.tokens:
        text = tok.decode(row.tolist())
        assert tok.encode(text) == [i for i in row.tolist() if i > 1]
    sentence = corpus.templates["current_city"][0].render(corpus.population.full_name(0), "X")
    sentence = sentence.replace(" X", "")  # a template's own words round-trip too
    assert tok.decode(tok.encode(sentence)) == sentence
    with pytest.raises(KeyError, match="Zebra"):
        Tokenizer.build(["a"]).encode("a Zebra")


def test_max_len_bounds_every_biography(corpus):
    batch = corpus.training_batch(np.arange(300), np.random.default_rng(6))
    assert ((batch.tokens > 0).sum(1) <= corpus.max_len).all()
    assert (batch.tokens[:, 0] == corpus.tokenizer.bos_id).all()
