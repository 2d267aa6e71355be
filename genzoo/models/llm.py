"""LLM: a GPT-2 (``transformers``' architecture, weights trained here) over byte-pair tokens,
trained on the Python standard library's own source code (``data.load_code_corpus``).

The tokenizer is a byte-level BPE trained here on the training modules (``code_tokenizer``), so
every byte of any module round-trips. Training is next-token prediction on random windows of
``context + 1`` tokens of the training stream (each module after ``<|endoftext|>``; cross-entropy
in nats per token). The headline is bits per byte over every byte of the held-out modules, each
module scored from its start in sliding windows (``quality.text.held_out_bits_per_byte``), with a
95% interval from a bootstrap over modules: comparable across vocabularies, since it is per byte.
Generation is our own loop over the model's forward with or without a KV cache
(``DynamicCache``), sampling with a temperature; it returns token ids, and the preview decodes them.

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

from genzoo import storage
from genzoo.integrations import transformers_attention
from genzoo.models import code_tokenizer, protocol, training
from genzoo.models import data as datasets
from genzoo.quality import text

# one tokenizer for every preset: ``load_data`` takes no preset, and the harness reads its data
# with whichever preset's model it benchmarks
TOKENIZER = code_tokenizer.TokenizerConfig()
# no trailing space: the tokenizer joins a word's leading space to the word (" name" is one
# token), so a prompt ending in a space leaves a lone-space token that training rarely saw before
# a word; after b"def " the cpu model wrote comments, after b"def" function headers
DEFAULT_PROMPT = b"def"
PREVIEW_PROMPTS = (b"def", b"class", b"import", b"    if")
EVAL_BATCH = 32


@dataclasses.dataclass(frozen=True)
class LLMConfig:
    """Defaults: the ``cpu`` preset, chosen by measurement: held-out bits per byte over every byte
    (stride 64), 16 x 128 tokens a step, one torch thread on 2 cores that other jobs were loading
    (4-8 runnable), so wall seconds run above CPU seconds:

        256 x 4 (4.2M parameters), 160 steps, lr 3e-3:  2.55 after 162 s (whole corpus)
        128 x 4 (1.3M),            430 steps, lr 5e-3:  2.24 after 207 s (whole corpus)
        128 x 4,                   430 steps, lr 5e-3:  2.19 after 278 s (without encodings/: data.py)
        192 x 4 (2.6M),            250 steps, lr 4e-3:  2.51 after 237 s (158 s of CPU)
        128 x 4,                   800 steps, lr 5e-3:  2.00 [1.80, 2.10] after 394 s (326 s of CPU);
                                                         186 s on idle cores, in genzoo run
        128 x 4,                  1500 steps, lr 5e-3:  1.867 [1.66, 1.97] after 382 s (warm-up 80)
        128 x 4,                  1400 steps, lr 5e-3:  1.878 [1.67, 1.98] after 348 s, in genzoo run
        128 x 4,                  1250 steps, lr 5e-3:  1.908 [1.70, 2.01] after 300 s, in genzoo run

    At this budget steps beat width: the loss still falls steeply at 250 steps. (gzip -9 on the
    same bytes: 2.11; xz -9e: 1.89.) Scoring with stride 32 instead of 64 gave 2.003: no better."""

    context: int = 128  # tokens the model sees (GPT-2's n_positions): about 435 bytes
    width: int = 128
    layers: int = 4
    heads: int = 4  # head_dim = width / heads
    batch_size: int = 16  # windows a step: twice the steps of 32 in one budget (32 not measured here)
    # 1,400 steps took 348 s in one genzoo run and 6.2 min in another, in a slower hour of this
    # machine: 1,250 (300 s) stay under 6 minutes
    steps: int = 1250
    learning_rate: float = 5e-3
    warmup_steps: int = 80
    weight_decay: float = 0.1
    dropout: float = 0.0  # of residuals and embeddings; genzoo's attention has no dropout of its own
    autocast: str | None = None  # "bfloat16" on CUDA for the gpu preset
    seed: int = 0
    extra_seeds: tuple[int, ...] = ()
    eval_stride: int = 64  # tokens a held-out window advances: each token sees >= 64 of context

    def __post_init__(self) -> None:
        if self.width % self.heads:
            raise ValueError(f"heads={self.heads} must divide width={self.width}")
        if not 0 < self.eval_stride <= self.context:
            raise ValueError(f"eval_stride={self.eval_stride} must be in 1..context={self.context}")


PRESETS = {
    "tiny": LLMConfig(context=48, width=32, layers=1, heads=2, batch_size=4, steps=4, eval_stride=48),
    "quick": LLMConfig(steps=150, warmup_steps=15),
    "cpu": LLMConfig(),
    # the same recipe, scaled (not run here): 2,400 steps of 32 x 512 tokens are ~16 passes over the
    # ~2.4M training tokens, about where repeated data stops paying (Muennighoff et al. 2023), hence
    # the dropout that the cpu preset's single pass does not need
    "gpu": LLMConfig(
        context=512,
        width=512,
        layers=8,
        heads=8,
        batch_size=32,
        steps=2400,
        learning_rate=1e-3,
        warmup_steps=200,
        dropout=0.1,
        autocast="bfloat16",
        eval_stride=256,
    ),
}


class CodeGPT(nn.Module):
    """GPT-2 over the tokenizer's ids: ``forward(tokens [B, N]) -> logits [B, N, vocab_size]``."""

    def __init__(self, config: LLMConfig, tokenizer: code_tokenizer.CodeTokenizer):
        super().__init__()
        self.config = config
        self.tokenizer = tokenizer
        gpt2_config = GPT2Config(
            vocab_size=tokenizer.vocab_size,
            n_positions=config.context,
            n_embd=config.width,
            n_layer=config.layers,
            n_head=config.heads,
            resid_pdrop=config.dropout,
            embd_pdrop=config.dropout,
            attn_pdrop=0.0,  # genzoo's attention (attn_implementation="genzoo") has none
            bos_token_id=tokenizer.end_of_text_id,
            eos_token_id=tokenizer.end_of_text_id,
        )
        self.gpt2 = GPT2LMHeadModel(gpt2_config)
        self.gpt2.set_attn_implementation(transformers_attention.ATTN_IMPLEMENTATION)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.gpt2(tokens, use_cache=False).logits


def load_data() -> code_tokenizer.TokenizedCorpus:
    return code_tokenizer.load_tokenized_corpus(TOKENIZER)


def build(config: LLMConfig) -> CodeGPT:
    tokenizer = load_data().tokenizer
    with training.seeded(config.seed):
        return CodeGPT(config, tokenizer).eval()


def next_token_loss(model: CodeGPT, windows: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy, nats per token, of predicting ``windows[:, 1:]`` from what precedes."""
    logits = model(windows[:, :-1])
    return F.cross_entropy(logits.float().flatten(0, 1), windows[:, 1:].flatten())


def make_training_step(model: CodeGPT, data: code_tokenizer.TokenizedCorpus, generator: torch.Generator):
    config = model.config
    if data.tokenizer.vocab_sha256 != model.tokenizer.vocab_sha256:
        raise ValueError("data were tokenized with another tokenizer than the model's")
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
    span = torch.arange(config.context + 1, device=device)

    def step() -> dict[str, torch.Tensor]:
        offsets = torch.randint(last_start + 1, (config.batch_size,), generator=generator, device=device)
        with training.autocast(device, config.autocast):
            loss = next_token_loss(model, corpus[offsets[:, None] + span].long())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        return {"loss": loss.detach()}

    return step


def prompt_tokens(model: CodeGPT, prompt: bytes) -> list[int]:
    """``<|endoftext|>`` then the prompt's tokens: generation starts a module, as training did."""
    return [model.tokenizer.end_of_text_id, *model.tokenizer.encode(prompt, "prompt")]


@torch.no_grad()
def sample(
    model: CodeGPT,
    n: int,
    seed: int,
    *,
    use_cache: bool = True,
    new_tokens: int = 96,
    dtype: str | torch.dtype | None = None,
    temperature: float = 0.8,
    prompt: bytes = DEFAULT_PROMPT,
) -> torch.Tensor:
    """``n`` continuations of ``prompt``: the ``new_tokens`` generated token ids, [n, new_tokens]
    int64 (``model.tokenizer.decode`` spells them). ``use_cache``: feed one token per step against
    a KV cache, or the whole sequence every step. ``temperature=0``: greedy."""
    model = protocol.cast(model, dtype)
    start = prompt_tokens(model, prompt)
    if len(start) + new_tokens > model.config.context:
        raise ValueError(
            f"prompt ({len(start)} tokens with <|endoftext|>) + new_tokens ({new_tokens}) must fit the "
            f"context of {model.config.context} tokens"
        )
    device = protocol.device_of(model)
    generator = training.generator(seed, device)
    tokens = torch.tensor(start, device=device).repeat(n, 1)  # [n, P]
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
    return tokens[:, len(start) :]


def held_out_bits_per_byte(model: CodeGPT, data: code_tokenizer.TokenizedCorpus) -> text.HeldOutBitsPerByte:
    """Every byte of every held-out module, each module from its ``<|endoftext|>`` on."""
    return text.held_out_bits_per_byte(
        model,
        data.validation_modules,
        data.validation_bytes,
        context_length=model.config.context,
        stride=model.config.eval_stride,
        batch_size=EVAL_BATCH,
        device=protocol.device_of(model),
    )


@torch.no_grad()
def evaluate(model: CodeGPT, data: code_tokenizer.TokenizedCorpus) -> dict[str, float]:
    """Bits per byte over all held-out bytes, its 95% interval over modules, and nats per token."""
    result = held_out_bits_per_byte(model, data)
    return {
        "val_loss": sum(result.module_nats) / result.tokens,
        "val_bits_per_byte": result.bits_per_byte,
        "val_bits_per_byte_low": result.interval.low,
        "val_bits_per_byte_high": result.interval.high,
        "val_bytes_per_token": result.bytes_per_token,
    }


def write_preview(model: CodeGPT, directory: Path) -> list[Path]:
    """Two continuations of each preview prompt, decoded to text."""
    longest = max(len(prompt_tokens(model, prompt)) for prompt in PREVIEW_PROMPTS)
    parts = []
    for prompt in PREVIEW_PROMPTS:
        for row in sample(model, 2, seed=0, new_tokens=model.config.context - longest, prompt=prompt):
            completion = (prompt + model.tokenizer.decode(row)).decode("utf-8", errors="replace")
            parts.append(f"# ---- sample {len(parts)} (prompt {prompt!r}) ----\n{completion}\n")
    return [storage.atomic_write_text(Path(directory) / "llm.txt", "\n".join(parts))]


CACHE_KNOB = protocol.Knob(
    "use_cache", (True, False), True
)  # one new token per forward, or the whole sequence


def sweep_plan(preset: str) -> protocol.SweepPlan:
    """Each KV-cache setting at 64 new tokens, or as many as the preset's context leaves the prompt."""
    # <|endoftext|> and the prompt's tokens, at most one a byte
    new_tokens = min(64, PRESETS[preset].context - (1 + len(DEFAULT_PROMPT)))
    reference = dict(n=8, use_cache=CACHE_KNOB.default, new_tokens=new_tokens)
    variants = tuple(
        dict(reference, use_cache=value) for value in CACHE_KNOB.values if value != CACHE_KNOB.default
    )
    return protocol.SweepPlan(reference, variants)


@dataclasses.dataclass(frozen=True)
class ServingWorkload:
    """Requests cut from the held-out modules' tokens: prompt and output lengths as vLLM's random
    data set draws them (+-25%), their sum within the context."""

    requests: int
    prompt_tokens: int
    output_tokens: int
    rates: tuple[float, ...]  # requests per second; inf: all at once


SERVING = {
    "tiny": ServingWorkload(requests=4, prompt_tokens=16, output_tokens=8, rates=(math.inf,)),
    "quick": ServingWorkload(requests=16, prompt_tokens=64, output_tokens=32, rates=(16.0, math.inf)),
    "cpu": ServingWorkload(requests=32, prompt_tokens=64, output_tokens=32, rates=(4.0, 16.0, math.inf)),
    "gpu": ServingWorkload(
        requests=256, prompt_tokens=256, output_tokens=128, rates=(8.0, 32.0, 128.0, math.inf)
    ),
}
# vLLM-style goodput limits: a code completion feels interactive within these
SERVICE_LEVELS_MS = dict(ttft_ms=500.0, tpot_ms=50.0)


def serving_and_hallucinations(trained: list, context) -> list:
    """What only the LLM measures: gzip and xz on the held-out bytes (the anchors of its bits per
    byte), and on the first seed's model its serving latency and how often its completions of
    held-out function headers parse and use names defined nowhere
    (``genzoo.quality.code_completions``, beside the real continuations and shuffled tokens)."""
    from genzoo.harness.timing import untimed_threads
    from genzoo.quality import code_completions

    run = trained[0]
    settings = code_completions.PRESETS[run.preset]
    rows = compressor_rows(datasets.load_code_corpus().validation_modules)
    rows += serving_measurements(run)
    with untimed_threads(context.device):  # the completions are scored, not timed: every core
        rows += code_completions.hallucination_rows(
            code_completions.llm_completer(run.model.eval(), settings),
            run.model.tokenizer,
            datasets.load_code_corpus(),
            settings,
            subject="llm",
        )
    return rows


def compressor_rows(modules: tuple[bytes, ...]) -> list:
    """Bits per byte of ``gzip -9`` and ``xz -9e`` on the held-out modules: joined and compressed
    once (a single figure), and each module alone, with the interval over modules the model's has."""
    from genzoo.measurement import Measurement
    from genzoo.quality import compressor_anchors
    from genzoo.stats.interval import measurement_fields

    rows = []
    for anchor in compressor_anchors(modules):
        common = dict(kind="quality", subject=f"anchor_{anchor.compressor}", backend="-", dtype="-", unit="")
        rows += [
            Measurement(
                case="joined",
                metric="bits_per_byte",
                value=anchor.concatenated,
                better="lower",
                samples=len(modules),
                note="the held-out modules joined and compressed once: no interval",
                **common,
            ),
            Measurement(
                case="per module",
                metric="bits_per_byte",
                better="lower",
                note="each held-out module compressed alone; 95% bootstrap interval over modules",
                **common,
                **measurement_fields(anchor.per_module),
            ),
        ]
    return rows


def serving_measurements(run) -> list:
    """Serving latency of ``run``'s model under Poisson arrivals at the preset's rates
    (``genzoo.serving``): transformers' continuous batching and static ``generate`` with eager and
    sdpa attention, and static ``generate`` with genzoo's (continuous batching cannot serve it:
    genzoo.serving.continuous)."""
    from genzoo import serving

    spec = SERVING[run.preset]
    data = load_data()
    workload = serving.Workload.from_token_stream(
        data.validation.tolist(),
        spec.requests,
        spec.prompt_tokens,
        spec.output_tokens,
        seed=0,
        range_ratio=0.25,
    )
    levels = serving.ServiceLevels(**SERVICE_LEVELS_MS)
    model = run.model.eval()
    rows = serving.serving_rows(
        model.gpt2,
        workload,
        serving.ServingBenchmark(rates=spec.rates, backends=("eager", "sdpa"), service_levels=levels),
    )
    rows += serving.serving_rows(
        model.gpt2,
        workload,
        serving.ServingBenchmark(
            rates=spec.rates, engines=("static",), backends=("genzoo",), service_levels=levels
        ),
    )
    return rows


FAMILY = protocol.Family(
    name="llm",
    unit="tokens",
    presets=PRESETS,
    knobs=(
        protocol.Knob("n", (1, 8, 32), 8),  # sequences generated at once (the batch size)
        CACHE_KNOB,
        # tokens generated per sequence; prompt and these fit the context
        protocol.Knob("new_tokens", (32, 96), 96),
    ),
    ops=("attention",),
    load_data=load_data,
    build=build,
    make_training_step=make_training_step,
    sample=sample,
    evaluate=evaluate,
    write_preview=write_preview,
    headline=protocol.Headline(
        "bits_per_byte", "lower", window=0.005, evaluation_key="val_bits_per_byte"
    ),  # every held-out byte: deterministic
    sweep_plan=sweep_plan,
    benchmark_cases={
        "cpu": (dict(n=4, new_tokens=16, use_cache=True), dict(n=4, new_tokens=16, use_cache=False)),
        "cuda": (dict(n=8, new_tokens=128, use_cache=True), dict(n=8, new_tokens=128, use_cache=False)),
    },
    # the interval's bounds and bytes per token have no better direction of their own
    evaluation_better={"val_loss": "lower", "val_bits_per_byte": "lower"},
    extra_measurements=serving_and_hallucinations,
    claims=(
        protocol.Claim(
            "LLMs: expensive, hallucinate", ("most_flops_per_sample", "most_bytes_per_sample", "hallucinates")
        ),
    ),
)
