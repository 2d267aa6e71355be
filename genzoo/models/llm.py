"""LLM: a GPT-2 (``transformers``' architecture, weights trained here) over bytes, trained on the
Python standard library's own source code (``data.load_code_corpus``).

The vocabulary is the 256 byte values: no tokenizer to ship or download, and bits per byte on the
held-out modules is comparable across model sizes. Training is next-byte prediction on random
windows of ``context + 1`` bytes (cross-entropy in nats per byte); generation is our own loop over
the model's forward with or without a KV cache (``DynamicCache``), sampling with a temperature.

Attention goes through transformers' ``AttentionInterface`` as ``attn_implementation="genzoo"``
(genzoo.integrations.transformers_attention: registry op ``attention``, so ``kernels.use``
selects its backend).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import DynamicCache, GPT2Config, GPT2LMHeadModel

from genzoo.integrations import transformers_attention
from genzoo.models import data as datasets
from genzoo.models import previews, protocol, training

VOCAB_SIZE = 256  # bytes
DEFAULT_PROMPT = b"def "
PREVIEW_PROMPTS = (b"def ", b"class ", b"import ", b"    if ")
EVAL_BATCH = 32


@dataclasses.dataclass(frozen=True)
class LLMConfig:
    context: int = 128  # bytes the model sees (GPT-2's n_positions)
    width: int = 128
    layers: int = 4
    heads: int = 4  # head_dim = width / heads
    batch_size: int = 32
    steps: int = 800  # ~3.3M bytes seen: about 0.3 s a step on 2 cores
    learning_rate: float = 3e-3
    warmup_steps: int = 50
    weight_decay: float = 0.1
    autocast: str | None = None  # "bfloat16" on CUDA for the gpu preset
    seed: int = 0
    extra_seeds: tuple[int, ...] = ()
    eval_windows: int = 64  # held-out windows the validation loss averages over

    def __post_init__(self) -> None:
        if self.width % self.heads:
            raise ValueError(f"heads={self.heads} must divide width={self.width}")


PRESETS = {
    "tiny": LLMConfig(context=48, width=32, layers=1, heads=2, batch_size=4, steps=4, eval_windows=4),
    "cpu": LLMConfig(),
    "gpu": LLMConfig(
        context=512,
        width=512,
        layers=8,
        heads=8,
        batch_size=64,
        steps=10000,
        learning_rate=1e-3,
        warmup_steps=500,
        autocast="bfloat16",
    ),
}


class ByteGPT(nn.Module):
    """GPT-2 over bytes: ``forward(tokens [B, N]) -> logits [B, N, 256]``."""

    def __init__(self, config: LLMConfig):
        super().__init__()
        self.config = config
        gpt2_config = GPT2Config(
            vocab_size=VOCAB_SIZE,
            n_positions=config.context,
            n_embd=config.width,
            n_layer=config.layers,
            n_head=config.heads,
            # no dropout: a few passes over ~10 MB of code do not overfit, and genzoo's attention has none
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            bos_token_id=None,
            eos_token_id=None,
        )
        self.gpt2 = GPT2LMHeadModel(gpt2_config)
        self.gpt2.set_attn_implementation(transformers_attention.ATTN_IMPLEMENTATION)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.gpt2(tokens, use_cache=False).logits


def build(config: LLMConfig) -> ByteGPT:
    with training.seeded(config.seed):
        return ByteGPT(config).eval()


def next_byte_loss(model: ByteGPT, windows: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy, nats per byte, of predicting ``windows[:, 1:]`` from what precedes."""
    logits = model(windows[:, :-1])
    return F.cross_entropy(logits.float().flatten(0, 1), windows[:, 1:].flatten())


def _windows(corpus: torch.Tensor, offsets: torch.Tensor, length: int) -> torch.Tensor:
    """[len(offsets), length] int64 windows of the byte corpus."""
    return corpus[offsets[:, None] + torch.arange(length, device=corpus.device)].long()


def make_training_step(model: ByteGPT, data: datasets.CodeCorpus, generator: torch.Generator):
    config = model.config
    device = protocol.device_of(model)
    corpus = data.train.to(device)
    decay = [p for p in model.parameters() if p.ndim >= 2]  # matrices; not biases, norms
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.learning_rate,
        betas=(0.9, 0.95),
    )
    schedule = training.warmup_cosine(optimizer, config.warmup_steps, config.steps)
    last_start = len(corpus) - (config.context + 1)

    def step() -> dict[str, torch.Tensor]:
        offsets = torch.randint(last_start + 1, (config.batch_size,), generator=generator, device=device)
        with training.autocast(device, config.autocast):
            loss = next_byte_loss(model, _windows(corpus, offsets, config.context + 1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        return {"loss": loss.detach()}

    return step


@torch.no_grad()
def sample(
    model: ByteGPT,
    n: int,
    seed: int,
    *,
    use_cache: bool = True,
    new_tokens: int = 96,
    dtype: str | torch.dtype | None = None,
    temperature: float = 0.8,
    prompt: bytes = DEFAULT_PROMPT,
) -> torch.Tensor:
    """``n`` continuations of ``prompt``: the ``new_tokens`` generated bytes, [n, new_tokens]
    int64. ``use_cache``: feed one byte per step against a KV cache, or the whole sequence every
    step. ``temperature=0``: greedy."""
    model = protocol.cast(model, dtype)
    if not prompt or len(prompt) + new_tokens > model.config.context:
        raise ValueError(
            f"prompt ({len(prompt)} bytes) + new_tokens ({new_tokens}) must fit the context of "
            f"{model.config.context} bytes (and the prompt must not be empty)"
        )
    device = protocol.device_of(model)
    generator = training.generator(seed, device)
    tokens = torch.tensor(list(prompt), device=device).repeat(n, 1)  # [n, P]
    cache = DynamicCache() if use_cache else None
    inputs = tokens
    for _ in range(new_tokens):
        # the cache is passed positionally: transformers 5.17 names it past_key_values, 5.24 cache
        logits = model.gpt2(inputs, cache, use_cache=use_cache, logits_to_keep=1).logits[:, -1].float()
        if temperature == 0:
            next_token = logits.argmax(dim=-1, keepdim=True)
        else:
            next_token = torch.multinomial(F.softmax(logits / temperature, dim=-1), 1, generator=generator)
        tokens = torch.cat([tokens, next_token], dim=1)
        inputs = next_token if use_cache else tokens
    return tokens[:, len(prompt) :]


@torch.no_grad()
def evaluate(model: ByteGPT, data: datasets.CodeCorpus) -> dict[str, float]:
    """Next-byte loss on the held-out modules, over evenly spaced windows (no randomness)."""
    config = model.config
    corpus = data.validation.to(protocol.device_of(model))
    offsets = torch.linspace(
        0, len(corpus) - (config.context + 1), config.eval_windows, device=corpus.device
    ).long()
    windows = _windows(corpus, offsets, config.context + 1)
    total = sum(next_byte_loss(model, chunk).item() * len(chunk) for chunk in windows.split(EVAL_BATCH))
    loss = total / len(windows)
    return {"val_loss": loss, "val_bits_per_byte": loss / math.log(2)}


def write_preview(model: ByteGPT, directory: Path) -> list[Path]:
    new_tokens = model.config.context - max(map(len, PREVIEW_PROMPTS))
    parts = [
        (prompt, sample(model, 2, seed=0, new_tokens=new_tokens, prompt=prompt)) for prompt in PREVIEW_PROMPTS
    ]
    return [previews.write_text_samples(parts, Path(directory) / "llm.txt")]


CACHE_KNOB = protocol.Knob(
    "use_cache", (True, False), True
)  # one new byte per forward, or the whole sequence


def sweep_plan(preset: str) -> protocol.SweepPlan:
    """Each KV-cache setting at 64 new bytes, or as many as the preset's context leaves the prompt."""
    new_tokens = min(64, PRESETS[preset].context - len(DEFAULT_PROMPT))
    reference = dict(n=8, use_cache=CACHE_KNOB.default, new_tokens=new_tokens)
    variants = tuple(
        dict(reference, use_cache=value) for value in CACHE_KNOB.values if value != CACHE_KNOB.default
    )
    return protocol.SweepPlan(reference, variants)


FAMILY = protocol.Family(
    name="llm",
    unit="tokens",
    presets=PRESETS,
    knobs=(
        protocol.Knob("n", (1, 8, 32), 8),  # sequences generated at once (the batch size)
        CACHE_KNOB,
        # bytes generated per sequence; prompt and these fit the context
        protocol.Knob("new_tokens", (32, 96), 96),
    ),
    ops=("attention",),
    load_data=datasets.load_code_corpus,
    build=build,
    make_training_step=make_training_step,
    sample=sample,
    evaluate=evaluate,
    write_preview=write_preview,
    headline=protocol.Headline(
        "bits_per_byte", "lower", window=0.005, evaluation_key="val_bits_per_byte"
    ),  # held-out windows: deterministic
    sweep_plan=sweep_plan,
    benchmark_cases={
        "cpu": (dict(n=4, new_tokens=16, use_cache=True), dict(n=4, new_tokens=16, use_cache=False)),
        "cuda": (dict(n=8, new_tokens=128, use_cache=True), dict(n=8, new_tokens=128, use_cache=False)),
    },
    evaluation_better={"val_loss": "lower", "val_bits_per_byte": "lower"},
)
