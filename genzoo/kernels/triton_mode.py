"""Whether Triton kernels run compiled on a GPU or under Triton's CPU interpreter.

Triton reads ``TRITON_INTERPRET`` when a kernel is *decorated*, so this module must be imported
(and ``configure`` run) before any kernel module: ``genzoo.kernels`` does that first.
An interpreted kernel is correct but slow; its timings are never a speed figure.
"""

from __future__ import annotations

import importlib.util
import os

import torch


def configure() -> None:
    """Without CUDA, run Triton kernels under the interpreter (unless the user chose already)."""
    if not torch.cuda.is_available():
        os.environ.setdefault("TRITON_INTERPRET", "1")
    if interpreted() and triton_available():
        _let_interpreter_loop_over_runtime_bounds()


def _let_interpreter_loop_over_runtime_bounds() -> None:
    """Triton 3.6's interpreter (the one beside torch 2.11) turns a runtime loop bound, as in
    ``range(0, n, BLOCK)``, into an int with ``int(array_of_shape_1)``, which NumPy >= 2.4 refuses:
    every kernel with such a loop fails. Later Triton squeezes the array first; give older
    releases the same ``__index__``."""
    import inspect

    import numpy as np
    from triton.runtime import interpreter

    patch_tensor = getattr(interpreter, "_patch_lang_tensor", None)
    if patch_tensor is None or "squeeze" in inspect.getsource(patch_tensor):
        return
    try:
        int(np.ones(1))
        return  # this NumPy still converts size-1 arrays
    except TypeError:
        pass

    def patch_with_squeezed_index(tensor, scope):
        patch_tensor(tensor, scope)
        scope.set_attr(tensor, "__index__", lambda self: int(self.handle.data.squeeze()))

    interpreter._patch_lang_tensor = patch_with_squeezed_index


def triton_available() -> bool:
    return importlib.util.find_spec("triton") is not None


def interpreted() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def triton_device() -> str:
    """The device Triton kernels run on: CUDA when present, the CPU under the interpreter."""
    return "cuda" if torch.cuda.is_available() and not interpreted() else "cpu"
