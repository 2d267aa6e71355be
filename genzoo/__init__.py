"""genzoo: a benchmarking harness for generative models and the fused kernels they run on."""

__version__ = "0.1.0"
