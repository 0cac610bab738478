"""The CPU runtime: load a GGUF, a pipeline output folder, an HF checkpoint or an MLX folder and run it.

    from llama_pajamas.run import Runtime
    with Runtime("model.gguf", threads=4) as rt:
        print(rt.generate("Once upon a time", max_tokens=32, temperature=0))
        for piece in rt.stream("Hello"):
            print(piece, end="", flush=True)
"""
from __future__ import annotations

import os
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Union

import numpy as np

from . import _core
from ._core import Error, GenerationResult, Stream

__all__ = ["Runtime", "GenerationResult", "Stream", "Error"]

PathLike = Union[str, "os.PathLike[str]"]


def _sampling(kw: Dict[str, Any]) -> Dict[str, Any]:
    stop = kw.get("stop")
    if isinstance(stop, str):
        kw["stop"] = [stop]
    elif stop is None:
        kw["stop"] = []
    return kw


class Runtime:
    """One loaded model and one conversation (KV cache). Not thread-safe: use one Runtime per thread.

    model: a .gguf file, a `convert` output folder (manifest.json), an HF checkpoint folder or an MLX folder.
    threads: CPU threads (None: physical cores). ctx: context length in tokens (None: 4096; 0: the model's).
    cache_type: KV cache type of K and V ("f32", "f16", "bf16", "q8_0", "q4_0"); cache_type_k / cache_type_v: K's or
    V's own type (llama.cpp's -ctk / -ctv; None: cache_type).
    """

    def __init__(self, model: PathLike, threads: Optional[int] = None, ctx: Optional[int] = None,
                 cache_type: str = "f16", batch: int = 512, *, cache_type_k: Optional[str] = None,
                 cache_type_v: Optional[str] = None) -> None:
        self._rt = _core.Runtime(os.fspath(model), threads=threads or 0, ctx=4096 if ctx is None else ctx,
                                 cache_type=cache_type, batch=batch, cache_type_k=cache_type_k or "",
                                 cache_type_v=cache_type_v or "")

    # -- lifetime --
    def close(self) -> None:
        """Frees the model now (streams still open end). Later calls raise llama_pajamas.Error."""
        self._rt.close()

    @property
    def closed(self) -> bool:
        return self._rt.closed

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- generation --
    def generate(self, prompt: str, max_tokens: int = 256, temperature: float = 0.8, *, top_k: int = 40,
                 top_p: float = 0.95, min_p: float = 0.05, repeat_penalty: float = 1.0, repeat_last_n: int = 64,
                 presence_penalty: float = 0.0, frequency_penalty: float = 0.0,
                 stop: Union[None, str, Sequence[str]] = None, seed: Optional[int] = None, add_bos: bool = True,
                 ignore_eos: bool = False) -> str:
        """Completes `prompt`; returns the generated text (details in `last_result`). temperature 0: greedy."""
        kw = _sampling(dict(locals()))
        del kw["self"], kw["prompt"]
        return self._rt.generate(prompt, **kw).text

    def stream(self, prompt: str, max_tokens: int = 256, temperature: float = 0.8, **kw: Any) -> Stream:
        """Like generate, as an iterator of text pieces (never half a UTF-8 character); `.result` once exhausted."""
        return self._rt.stream(prompt, max_tokens=max_tokens, temperature=temperature, **_sampling(kw))

    def chat(self, messages: Sequence[Mapping[str, str]], tools: Optional[Sequence[Mapping[str, Any]]] = None,
             max_tokens: int = 256, temperature: float = 0.8, **kw: Any) -> str:
        """Renders the model's chat template over [{"role", "content"}, ...] and returns the assistant's reply."""
        if tools:
            raise Error("chat: tools are not supported by the runtime's chat template renderer yet (pass tools=None)")
        return self._rt.chat([dict(m) for m in messages], max_tokens=max_tokens, temperature=temperature,
                             **_sampling(kw)).text

    def apply_chat_template(self, messages: Sequence[Mapping[str, str]], add_generation_prompt: bool = True) -> str:
        return self._rt.apply_chat_template([dict(m) for m in messages], add_generation_prompt)

    @property
    def last_result(self) -> GenerationResult:
        """Tokens, stop reason and timings of the last generate/chat call."""
        return self._rt.last_result

    # -- tokens, logits, perplexity --
    def tokenize(self, text: str, add_special: bool = True, parse_special: bool = True) -> List[int]:
        return self._rt.tokenize(text, add_special, parse_special)

    def detokenize(self, tokens: Sequence[int]) -> str:
        return self._rt.detokenize(list(tokens))

    def logits(self, tokens: Sequence[int]) -> np.ndarray:
        """Logits of every position, float32 array (len(tokens), n_vocab), from an empty context (no copy)."""
        return self._rt.logits(list(tokens))

    def perplexity(self, text: str, ctx: int = 512, chunks: int = -1, details: bool = False) -> Union[float, Dict[str, Any]]:
        """llama-perplexity's protocol (as `llama-pajamas-run perplexity -c CTX`): the perplexity, or with
        details=True the same dict as its --json output."""
        r = self._rt.perplexity(text, ctx, chunks)
        return r if details else r["perplexity"]

    def reset(self) -> None:
        """Forgets the cached conversation."""
        self._rt.reset()

    def info(self) -> Dict[str, Any]:
        return self._rt.info()
