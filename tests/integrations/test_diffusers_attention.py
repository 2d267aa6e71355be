"""GenzooAttnProcessor in diffusers: a tiny UNet2DModel with attention blocks gives the default
processor's output (fp32, 1e-4 relative) on every backend, trains with the same gradients, and
refuses additive float masks."""

from __future__ import annotations

import pytest
import torch

diffusers = pytest.importorskip("diffusers")

from genzoo import kernels
from genzoo.integrations.diffusers_attention import GenzooAttnProcessor, use_genzoo_attention
from genzoo.kernels import registry
from genzoo.kernels.validation import KernelInputError
from genzoo.tolerance import relative_error


def _unet():
    torch.manual_seed(0)
    return diffusers.UNet2DModel(
        sample_size=8,
        in_channels=3,
        out_channels=3,
        layers_per_block=1,
        block_out_channels=(16, 32),
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=8,
        norm_num_groups=8,
    )


@pytest.fixture(scope="module")
def unets():
    default = _unet().eval()
    ours = _unet().eval()
    ours.load_state_dict(default.state_dict())
    assert use_genzoo_attention(ours) == 4  # down, mid and two up-block attentions
    return default, ours


def _inputs(seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 3, 8, 8, generator=g), torch.tensor([10, 500])


@pytest.mark.parametrize("backend", ["eager", "sdpa", "triton"])
def test_unet_matches_the_default_processor(unets, monkeypatch, backend):
    default, ours = unets
    op = registry.get("attention")
    calls = []
    implementation = op.backends[backend]
    monkeypatch.setitem(
        op.backends, backend, lambda *a, **k: calls.append(a[0].shape) or implementation(*a, **k)
    )
    x, t = _inputs(torch.randint(0, 2**31 - 1, ()).item())
    with torch.no_grad():
        expected = default(x, t).sample
        with kernels.use(backend, fallback=None):
            result = ours(x, t).sample
    assert len(calls) == 4 and all(shape[1] == 4 for shape in calls)  # 32 channels / head_dim 8
    assert relative_error(result, expected.double()) <= 1e-4


def test_unet_trains_with_the_same_gradients(unets):
    default, ours = unets
    x, t = _inputs(5)
    target = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(6))
    grads = {}
    for name, model in (("default", default), ("ours", ours)):
        model.zero_grad()
        with kernels.use("triton", fallback=None):
            torch.nn.functional.mse_loss(model(x, t).sample, target).backward()
        grads[name] = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert grads["ours"].keys() == grads["default"].keys()
    flat = {name: torch.cat([g.flatten() for g in grads[name].values()]) for name in grads}
    assert relative_error(flat["ours"], flat["default"].double()) <= 1e-4
    scale = flat["default"].abs().max()
    for n, g in grads["ours"].items():  # to_k.bias has zero gradient in exact math: roundoff only
        if grads["default"][n].abs().max() > 1e-6 * scale:
            assert relative_error(g, grads["default"][n].double()) <= 1e-4, n


def test_boolean_mask_on_an_attention_module():
    """Cross-attention with a key padding mask through prepare_attention_mask."""
    torch.manual_seed(0)
    attn = diffusers.models.attention_processor.Attention(
        query_dim=32, cross_attention_dim=24, heads=2, dim_head=16
    )
    x, context = torch.randn(2, 5, 32), torch.randn(2, 7, 24)
    mask = torch.ones(2, 1, 7, dtype=torch.bool)
    mask[1, :, 4:] = False
    with torch.no_grad():
        expected = attn(
            x, context, attention_mask=torch.zeros(2, 1, 7).masked_fill(~mask, -1e9)
        )  # AttnProcessor2_0
        attn.set_processor(GenzooAttnProcessor())
        with kernels.use("triton", fallback=None):
            result = attn(x, context, attention_mask=mask)
        with pytest.raises(KernelInputError, match=r"^attention_mask\b"):
            attn(x, context, attention_mask=torch.zeros(2, 1, 7))
    assert relative_error(result, expected.double()) <= 1e-5
