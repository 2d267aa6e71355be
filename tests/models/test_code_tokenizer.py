"""The LLM's byte-level BPE: every held-out byte round-trips, training is deterministic, and a
trained tokenizer is cached like a checkpoint (keyed by config and corpus hash)."""

from __future__ import annotations

import dataclasses

import pytest

from genzoo.models import code_tokenizer, llm
from genzoo.models.data import load_code_corpus

# a small tokenizer of a few modules: trains in well under a second
SMALL = code_tokenizer.TokenizerConfig(vocab_size=400)


@pytest.fixture(scope="module")
def corpus():
    return load_code_corpus()


@pytest.fixture(scope="module")
def family_data():
    return llm.load_data()


def test_every_held_out_module_round_trips_byte_for_byte(corpus, family_data):
    tokenizer = family_data.tokenizer
    for name, module in zip(corpus.validation_files, corpus.validation_modules):
        ids = tokenizer.encode(module, name)
        assert tokenizer.end_of_text_id not in ids
        assert tokenizer.decode(ids) == module, name
    # the corpus' own token tensors spell the same modules after their <|endoftext|>
    for tokens, module, length in zip(
        family_data.validation_modules, corpus.validation_modules, family_data.validation_bytes
    ):
        assert tokens[0].item() == tokenizer.end_of_text_id
        assert tokenizer.decode(tokens[1:]) == module and len(module) == length


def test_byte_table_agrees_with_the_library_decoder(family_data):
    """Our id -> bytes table (GPT-2's byte stand-ins) against ``tokenizers``' own ByteLevel decoder,
    for every id whose bytes are whole UTF-8 characters."""
    tokenizer = family_data.tokenizer
    checked = 0
    for index, spelled in enumerate(tokenizer.token_bytes):
        if index == tokenizer.end_of_text_id:
            continue
        try:
            expected = spelled.decode("utf-8")
        except UnicodeDecodeError:  # part of a character: the library would print U+FFFD
            continue
        assert tokenizer.tokenizer.decode([index]) == expected, index
        checked += 1
    assert checked > 0.9 * tokenizer.vocab_size


def test_training_is_deterministic_and_depends_on_the_config(corpus):
    modules = corpus.train_modules[:40]
    first, second = code_tokenizer.train(modules, SMALL), code_tokenizer.train(modules, SMALL)
    assert first.json == second.json and first.vocab_sha256 == second.vocab_sha256
    assert first.vocab_size == SMALL.vocab_size
    other = code_tokenizer.train(modules, code_tokenizer.TokenizerConfig(vocab_size=500))
    assert other.vocab_sha256 != first.vocab_sha256


def test_trained_tokenizer_is_cached_by_config_and_corpus_hash(corpus, tmp_path, monkeypatch):
    subset = dataclasses.replace(corpus, train_modules=corpus.train_modules[:40])
    trained = code_tokenizer.load_or_train(SMALL, subset, tmp_path)
    path = code_tokenizer.tokenizer_path(SMALL, subset.sha256, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # written atomically: no partial file left
    monkeypatch.setattr(code_tokenizer, "train", lambda *args: pytest.fail("retrained a cached tokenizer"))
    assert code_tokenizer.load_or_train(SMALL, subset, tmp_path).vocab_sha256 == trained.vocab_sha256
    other_config = code_tokenizer.TokenizerConfig(vocab_size=500)
    assert code_tokenizer.tokenizer_path(other_config, subset.sha256, tmp_path) != path
    assert code_tokenizer.tokenizer_path(SMALL, "another corpus", tmp_path) != path


def test_tokenized_corpus_hash_changes_with_the_tokenizer(tmp_path, monkeypatch, family_data, corpus):
    monkeypatch.setenv("GENZOO_CACHE_DIR", str(tmp_path))
    small = code_tokenizer.load_tokenized_corpus(SMALL)
    # the LLM checkpoint's key holds this hash: a model of another vocabulary is never loaded
    assert small.sha256 != family_data.sha256
    assert corpus.sha256 not in (small.sha256, family_data.sha256)
    assert small.tokenizer.vocab_size == SMALL.vocab_size
    assert int(small.train.max()) < SMALL.vocab_size


def test_text_that_is_not_utf8_is_refused_by_name(family_data):
    with pytest.raises(ValueError, match="latin.py is not UTF-8"):
        family_data.tokenizer.encode("café".encode("latin-1"), "latin.py")


def test_too_small_a_vocabulary_is_refused():
    with pytest.raises(ValueError, match="vocab_size=200 must exceed the 256 bytes"):
        code_tokenizer.TokenizerConfig(vocab_size=200)
