"""genzoo's kernels inside other libraries' models, kept apart from the kernels themselves.

Import a module to register its integration (each imports its library, which takes seconds):

    import genzoo.integrations.transformers_attention   # attn_implementation="genzoo"
    from genzoo.integrations.diffusers_attention import GenzooAttnProcessor

Both dispatch through the genzoo registry, so ``with kernels.use("triton"):`` (or "sdpa",
"eager", "compile") picks the backend that runs inside the model.
"""
