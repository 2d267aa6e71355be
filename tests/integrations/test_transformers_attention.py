"""attn_implementation="genzoo" in transformers: greedy generation of tiny random GPT-2 and
Llama (grouped-query) models gives eager's tokens, with the prefill on FlashAttention-2 and the
decode steps on the split-KV kernel; ``kernels.use`` picks the backend inside the model;
training gradients match; what the kernels do not implement is refused by name."""

from __future__ import annotations

import pytest
import torch

transformers = pytest.importorskip("transformers")

from genzoo import kernels
from genzoo.integrations import transformers_attention
from genzoo.kernels import attention_decode, attention_forward, registry
from genzoo.kernels.validation import KernelInputError
from genzoo.tolerance import relative_error

VOCAB = 97
# initializer_range 0.3: a random model whose greedy tokens vary (at 0.02 it repeats one token)
GPT2 = {
    "vocab_size": VOCAB,
    "n_positions": 64,
    "n_embd": 64,
    "n_layer": 2,
    "n_head": 4,
    "resid_pdrop": 0.0,
    "embd_pdrop": 0.0,
    "attn_pdrop": 0.0,
    "initializer_range": 0.3,
    "bos_token_id": 0,
    "eos_token_id": None,
    "pad_token_id": 0,
}
LLAMA = {
    "vocab_size": VOCAB,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 64,
    "initializer_range": 0.3,
    "bos_token_id": 0,
    "eos_token_id": None,
    "pad_token_id": 0,
}


def _pair(model_class, config_class, params):
    """The same random weights (fixed seed) with transformers' eager attention and with ours
    (separate configs: a model reads its attention implementation from its config)."""
    torch.manual_seed(0)
    eager = model_class._from_config(config_class(**params), attn_implementation="eager").eval()
    ours = model_class._from_config(
        config_class(**params), attn_implementation=transformers_attention.ATTN_IMPLEMENTATION
    )
    ours.load_state_dict(eager.state_dict())
    assert eager.config._attn_implementation == "eager"
    return eager, ours.eval()


@pytest.fixture(scope="module")
def gpt2():
    return _pair(transformers.GPT2LMHeadModel, transformers.GPT2Config, GPT2)


def _prompts():
    """Two prompts of unequal length, left-padded as generate() wants them."""
    ids = torch.randint(1, VOCAB, (2, 7), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    ids[1, :3], mask[1, :3] = 0, 0
    return ids, mask


@pytest.fixture
def decode_launches(monkeypatch):
    calls = []

    def spy(*args, **kwargs):
        calls.append(tuple(args[0].shape))
        return attention_decode.flash_decoding(*args, **kwargs)

    monkeypatch.setattr(attention_forward, "flash_decoding", spy)
    return calls


def test_gpt2_greedy_generation_matches_eager(gpt2, decode_launches):
    eager, ours = gpt2
    ids, mask = _prompts()
    expected = eager.generate(ids, attention_mask=mask, max_new_tokens=8, do_sample=False)
    with kernels.use("triton", fallback=None):
        tokens = ours.generate(ids, attention_mask=mask, max_new_tokens=8, do_sample=False)
    assert torch.equal(tokens, expected)
    assert len(decode_launches) == 7 * 2 and all(
        shape[2] == 1 for shape in decode_launches
    )  # 7 steps x 2 layers


def test_static_cache_prefill_and_decode(gpt2, decode_launches):
    """A static cache hands the prefill keys past the prompt (dropped, as sdpa does) and
    decode steps a [B, 1, 1, Nk] mask (folded into a key padding mask: split-KV)."""
    eager, ours = gpt2
    ids = torch.randint(1, VOCAB, (1, 6), generator=torch.Generator().manual_seed(2))
    expected = eager.generate(ids, max_new_tokens=3, do_sample=False, cache_implementation="static")
    with kernels.use("triton", fallback=None):
        tokens = ours.generate(ids, max_new_tokens=3, do_sample=False, cache_implementation="static")
    assert torch.equal(tokens, expected) and len(decode_launches) == 2 * 2


@pytest.mark.parametrize("backend", ["eager", "sdpa", "triton"])
def test_kernels_use_selects_the_backend_inside_the_model(gpt2, monkeypatch, backend):
    eager, ours = gpt2
    op = registry.get("attention")
    calls = []
    implementation = op.backends[backend]
    monkeypatch.setitem(
        op.backends, backend, lambda *a, **k: calls.append(backend) or implementation(*a, **k)
    )
    ids, mask = _prompts()
    with torch.no_grad():
        expected = eager(ids, attention_mask=mask).logits
        with kernels.use(backend, fallback=None):
            logits = ours(ids, attention_mask=mask).logits
    assert calls == [backend] * 2  # one call per layer
    valid = mask.bool()  # padded positions attend to nothing real: their logits are arbitrary
    assert relative_error(logits[valid], expected[valid].double()) <= 1e-5


def test_llama_grouped_query_generation_matches_eager(decode_launches):
    eager, ours = _pair(transformers.LlamaForCausalLM, transformers.LlamaConfig, LLAMA)
    ids = torch.randint(1, VOCAB, (1, 7), generator=torch.Generator().manual_seed(3))
    expected = eager.generate(ids, max_new_tokens=5, do_sample=False)
    with kernels.use("triton", fallback=None):
        tokens = ours.generate(ids, max_new_tokens=5, do_sample=False)
    assert torch.equal(tokens, expected) and decode_launches


def test_training_gradients_match_eager(gpt2):
    """Right padding, as for training (with left padding the first real label is predicted from a
    padded position that sees no key: eager averages over masked keys there, the kernels give 0)."""
    eager, ours = gpt2
    ids, mask = (t.flip(1) for t in _prompts())
    labels = ids.masked_fill(mask == 0, -100)
    grads = {}
    for name, model in (("eager", eager), ("ours", ours)):
        model.train()
        model.zero_grad()
        with kernels.use("triton", fallback=None):
            model(ids, attention_mask=mask, labels=labels).loss.backward()
        grads[name] = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        model.eval()
    assert grads["eager"].keys() == grads["ours"].keys()
    for n, g in grads["ours"].items():
        assert relative_error(g, grads["eager"][n].double()) <= 1e-4, n


class _Module(torch.nn.Module):
    is_causal = True


@pytest.mark.parametrize(
    "kwargs",
    [
        {"attention_mask": torch.zeros(1, 1, 3, 3)},
        {"dropout": 0.1},
        {"softcap": 30.0},
        {"s_aux": torch.zeros(2)},
    ],
    ids=lambda kwargs: next(iter(kwargs)),
)
def test_what_the_kernels_do_not_implement_is_refused_by_name(kwargs):
    q = k = v = torch.randn(1, 2, 3, 16)
    (name,) = kwargs
    kwargs = {"attention_mask": None, **kwargs}
    with pytest.raises(KernelInputError, match=rf"^{name}\b"):
        transformers_attention.genzoo_attention_forward(_Module(), q, k, v, **kwargs)


def test_registered_under_our_name():
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS

    assert AttentionInterface._global_mapping["genzoo"] is transformers_attention.genzoo_attention_forward
    assert "genzoo" in ALL_MASK_ATTENTION_FUNCTIONS._global_mapping
