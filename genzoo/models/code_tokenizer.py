"""The LLM's tokenizer: a byte-level BPE (GPT-2's scheme, Hugging Face ``tokenizers``) trained here
on the training modules of the code corpus, and the corpus as token ids.

Byte-level: before any merge, each byte of the UTF-8 text maps to one of 256 printable symbols
(GPT-2's ``bytes_to_unicode``), so every byte sequence that is UTF-8 encodes, nothing is ever
unknown, and ``decode(encode(text)) == text`` byte for byte. GPT-2's pre-tokenizer splits words,
numbers, punctuation runs and whitespace runs apart first, so a merge never crosses them. Id 0 is
``<|endoftext|>``: it separates the modules of the training stream, and each held-out module is
scored after one, so that its first token is predicted (from nothing) too.

Training is deterministic for a given ``tokenizers`` version (the modules in sorted file order;
two trainings give the same JSON: tests/models/test_code_tokenizer.py). A trained tokenizer is kept in
``<cache>/tokenizers/`` as the library's JSON, written atomically, keyed by the config and the
corpus hash; ``vocab_sha256`` (a hash of that JSON) enters the tokenized corpus' hash, hence the
LLM checkpoint's key, so that no model trained on another vocabulary is ever loaded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from functools import lru_cache
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from genzoo import storage
from genzoo.models import data as datasets

END_OF_TEXT = "<|endoftext|>"


@dataclasses.dataclass(frozen=True)
class TokenizerConfig:
    # 4,096: 3.40 held-out bytes a token, 3 s to train; 8,192 gave 3.66 (on the whole corpus, with
    # encodings/) for twice the embedding, whose output layer is already 40% of a 128-wide model's work
    vocab_size: int = 4096
    min_frequency: int = 2  # a pair seen once is not worth a token

    def __post_init__(self) -> None:
        if self.vocab_size <= 257:
            raise ValueError(f"vocab_size={self.vocab_size} must exceed the 256 bytes and <|endoftext|>")


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte (``encoder.py`` of openai/gpt-2), which
    ``tokenizers``' ByteLevel uses too: printable Latin-1 bytes stand for themselves, the others
    for the code points from 256 up, in byte order."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    stand_ins = dict(zip(printable, printable))
    extra = 0
    for byte in range(256):
        if byte not in stand_ins:
            stand_ins[byte] = 256 + extra
            extra += 1
    return {byte: chr(code) for byte, code in stand_ins.items()}


_UNICODE_TO_BYTE = {symbol: byte for byte, symbol in _bytes_to_unicode().items()}


class CodeTokenizer:
    """A trained byte-level BPE: ``encode(bytes) -> ids``, ``decode(ids) -> bytes``. Immutable."""

    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer = tokenizer
        self.json = tokenizer.to_str()
        self.vocab_sha256 = hashlib.sha256(self.json.encode()).hexdigest()
        self.end_of_text_id = tokenizer.token_to_id(END_OF_TEXT)
        vocab = tokenizer.get_vocab(with_added_tokens=True)
        # each id's bytes; <|endoftext|> as its own text, so that decoding never drops a byte
        self.token_bytes = [b""] * len(vocab)
        for token, index in vocab.items():
            is_special = token == END_OF_TEXT
            self.token_bytes[index] = (
                token.encode() if is_special else bytes(_UNICODE_TO_BYTE[c] for c in token)
            )

    @property
    def vocab_size(self) -> int:
        return len(self.token_bytes)

    def encode(self, text: bytes, name: str = "text") -> list[int]:
        try:
            decoded = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(f"{name} is not UTF-8 ({error}); the tokenizer reads UTF-8 text") from None
        return self.tokenizer.encode(decoded).ids

    def decode(self, ids: list[int] | torch.Tensor) -> bytes:
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else ids
        return b"".join(self.token_bytes[i] for i in ids)

    def __deepcopy__(self, memo: dict) -> CodeTokenizer:  # immutable: a copied model shares it
        return self


def train(modules: tuple[bytes, ...], config: TokenizerConfig) -> CodeTokenizer:
    """A byte-level BPE of ``config.vocab_size`` ids trained on ``modules`` (UTF-8 texts)."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=config.vocab_size,
        min_frequency=config.min_frequency,
        special_tokens=[END_OF_TEXT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator((module.decode("utf-8") for module in modules), trainer)
    return CodeTokenizer(tokenizer)


def tokenizer_path(config: TokenizerConfig, corpus_sha256: str, directory: Path | None = None) -> Path:
    key = hashlib.sha256(json.dumps([dataclasses.asdict(config), corpus_sha256], sort_keys=True).encode())
    folder = Path(directory) if directory is not None else storage.cache_dir() / "tokenizers"
    return folder / f"code-bpe{config.vocab_size}-{key.hexdigest()[:16]}.json"


def load_or_train(
    config: TokenizerConfig, corpus: datasets.CodeCorpus, directory: Path | None = None
) -> CodeTokenizer:
    """The tokenizer of ``config`` on ``corpus``' training modules, from the cache when it is there."""
    path = tokenizer_path(config, corpus.sha256, directory)
    if path.is_file():
        return CodeTokenizer(Tokenizer.from_str(path.read_text(encoding="utf-8")))
    trained = train(corpus.train_modules, config)
    storage.atomic_write_text(path, trained.json)
    return trained


@dataclasses.dataclass(frozen=True)
class TokenizedCorpus:
    """The code corpus as token ids (int32) under one tokenizer."""

    tokenizer: CodeTokenizer
    train: torch.Tensor  # [N]: each training module after <|endoftext|>, concatenated
    validation: torch.Tensor  # [M]: the held-out modules, likewise
    validation_modules: tuple[torch.Tensor, ...]  # each held-out module alone, after <|endoftext|>
    validation_bytes: tuple[int, ...]  # each held-out module's length in bytes
    validation_files: tuple[str, ...]
    sha256: str  # of the byte corpus and the tokenizer's vocabulary


def _tokenize(
    tokenizer: CodeTokenizer, files: tuple[str, ...], modules: tuple[bytes, ...]
) -> list[torch.Tensor]:
    return [
        torch.tensor([tokenizer.end_of_text_id, *tokenizer.encode(module, name)], dtype=torch.int32)
        for name, module in zip(files, modules)
    ]


@lru_cache(maxsize=2)
def load_tokenized_corpus(config: TokenizerConfig) -> TokenizedCorpus:
    """``load_code_corpus()`` through the tokenizer of ``config`` (trained first if not cached)."""
    corpus = datasets.load_code_corpus()
    tokenizer = load_or_train(config, corpus)
    train_tokens = _tokenize(tokenizer, corpus.train_files, corpus.train_modules)
    held_out = _tokenize(tokenizer, corpus.validation_files, corpus.validation_modules)
    return TokenizedCorpus(
        tokenizer=tokenizer,
        train=torch.cat(train_tokens),
        validation=torch.cat(held_out),
        validation_modules=tuple(held_out),
        validation_bytes=tuple(len(module) for module in corpus.validation_modules),
        validation_files=corpus.validation_files,
        sha256=hashlib.sha256(f"{corpus.sha256}:{tokenizer.vocab_sha256}".encode()).hexdigest(),
    )
