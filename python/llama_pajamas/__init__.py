"""Llama-Pajamas: architecture-aware LLM quantization (llama_pajamas.quant) and a CPU runtime (llama_pajamas.run).

See docs/PYTHON.md in the repository.
"""
from ._core import Error, __version__

__all__ = ["Error", "__version__", "hub", "quant", "run"]


def __getattr__(name):  # lazy submodules: `import llama_pajamas; llama_pajamas.run.Runtime(...)`
    if name in ("hub", "quant", "run"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(name)
