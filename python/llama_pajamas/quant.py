"""The quantization pipeline: detect, plan, convert, validate (the `llama-pajamas-quant` commands).

    from llama_pajamas import quant
    report = quant.detect("../shared/fixtures/tiny-qwen3")
    print(report.family, report.to_dict()["attention_type"])
    quant.convert("../shared/fixtures/tiny-qwen3", "out", formats=["gguf"], precision="q4_k_m")
"""
from __future__ import annotations

import json
import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from . import _core
from ._core import Error

__all__ = ["ArchitectureReport", "detect", "plan", "convert", "calibrate", "validate", "Error"]

PathLike = Union[str, "os.PathLike[str]"]
ProgressCallback = Callable[[str, int, int], None]


class ArchitectureReport:
    """The detect report: every key of `llama-pajamas-quant detect --json` is an attribute."""

    def __init__(self, data: Dict[str, Any], json_text: str, path: str) -> None:
        self._data = data
        self._json = json_text
        self._path = path

    def to_dict(self) -> Dict[str, Any]:
        return json.loads(self._json)

    def to_json(self) -> str:
        """Exactly what `llama-pajamas-quant detect --json` prints."""
        return self._json

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_data"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __dir__(self) -> List[str]:
        return sorted(set(super().__dir__()) | set(self._data))

    def __str__(self) -> str:
        return _core.detect_text(self._path)

    def __repr__(self) -> str:
        return f"ArchitectureReport(architecture={self._data.get('architecture')!r}, family={self._data.get('family')!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ArchitectureReport) and self._data == other._data


def detect(path: PathLike) -> ArchitectureReport:
    """Architecture report of a Hugging Face checkpoint folder or a bare config.json."""
    p = os.fspath(path)
    data, text = _core.detect_json(p)
    return ArchitectureReport(data, text, p)


def _precision_kw(precision: Optional[str], recipe: Optional[str], tensor_types: Sequence[str], architecture_aware: bool,
                  imatrix: Optional[str], calibration: Union[None, str, Sequence[str]], target_bpw: Optional[float],
                  target_size: Optional[str], threads: Optional[int]) -> Dict[str, Any]:
    if isinstance(calibration, (str, os.PathLike)):
        calibration = [calibration]
    return dict(precision=precision or "", recipe=os.fspath(recipe) if recipe else "", tensor_types=list(tensor_types),
                architecture_aware=architecture_aware, imatrix=os.fspath(imatrix) if imatrix else "",
                calibration=[os.fspath(c) for c in (calibration or [])], target_bpw=float(target_bpw or 0),
                target_size=target_size or "", threads=threads or 0)


def plan(path: PathLike, precision: Optional[str] = None, *, recipe: Optional[PathLike] = None,
         tensor_types: Sequence[str] = (), architecture_aware: bool = True, imatrix: Optional[PathLike] = None,
         calibration: Union[None, PathLike, Sequence[PathLike]] = None, target_bpw: Optional[float] = None,
         target_size: Optional[str] = None, threads: Optional[int] = None) -> Any:
    """The per-tensor precision plan: the JSON of `plan --json` (a dict, or a list when several plans)."""
    return _core.plan(os.fspath(path), **_precision_kw(precision, recipe, tensor_types, architecture_aware, imatrix,
                                                      calibration, target_bpw, target_size, threads))


def convert(path: PathLike, output: PathLike, formats: Union[str, Sequence[str]] = ("gguf", "mlx"),
            precision: Optional[str] = None, calibration: Union[None, PathLike, Sequence[PathLike]] = None,
            progress: Optional[ProgressCallback] = None, *, recipe: Optional[PathLike] = None,
            tensor_types: Sequence[str] = (), architecture_aware: bool = True, imatrix: Optional[PathLike] = None,
            target_bpw: Optional[float] = None, target_size: Optional[str] = None,
            threads: Optional[int] = None) -> Dict[str, Any]:
    """Converts a checkpoint to GGUF and/or MLX artifacts in `output`; returns the summary of `convert --json`.

    progress(label, done, total) is called from the conversion (at most every 100 ms per stage)."""
    if isinstance(formats, str):
        formats = [f for f in formats.split(",") if f]
    kw = _precision_kw(precision, recipe, tensor_types, architecture_aware, imatrix, calibration, target_bpw,
                       target_size, threads)
    return _core.convert(os.fspath(path), os.fspath(output), list(formats), progress=progress, **kw)


def calibrate(path: PathLike, calibration: Union[PathLike, Sequence[PathLike]], output: PathLike = "imatrix.gguf", *,
              ctx: int = 512, chunks: int = 0, threads: Optional[int] = None, expert_balanced: bool = False,
              min_expert_tokens: int = 64, seed: int = 42, legacy_format: bool = False,
              progress: Optional[ProgressCallback] = None) -> Dict[str, Any]:
    """Importance matrix (llama.cpp's imatrix format) of `path` over calibration text (.txt/.jsonl files, folders,
    a build-calibration folder, or "builtin"), written to `output`; returns the JSON of `calibrate --json`."""
    if isinstance(calibration, (str, os.PathLike)):
        calibration = [calibration]
    return _core.calibrate(os.fspath(path), [os.fspath(c) for c in calibration], os.fspath(output), ctx=ctx,
                           chunks=chunks, threads=threads or 0, expert_balanced=expert_balanced,
                           min_expert_tokens=min_expert_tokens, seed=seed, legacy=legacy_format, progress=progress)


def validate(original: PathLike, quantized: PathLike, *, metrics: Union[str, Sequence[str]] = "perplexity,kld,generation",
             corpus: Optional[PathLike] = None, ctx: int = 512, max_tokens: int = 0, gen_tokens: int = 32,
             threads: Optional[int] = None, max_ppl_increase: Optional[float] = None, max_kld: Optional[float] = None,
             write: bool = True, progress: Optional[ProgressCallback] = None) -> Dict[str, Any]:
    """Measures quantized artifacts against the original; returns the JSON of `validate --json`
    (each format's "pass"; see docs/VALIDATE.md). write=False leaves manifest.json untouched."""
    if not isinstance(metrics, str):
        metrics = ",".join(metrics)
    return _core.validate(os.fspath(original), os.fspath(quantized), metrics=metrics,
                          corpus=os.fspath(corpus) if corpus else "", ctx=ctx, max_tokens=max_tokens,
                          gen_tokens=gen_tokens, threads=threads or 0,
                          max_ppl_increase=-1.0 if max_ppl_increase is None else max_ppl_increase,
                          max_kld=-1.0 if max_kld is None else max_kld, write=write, progress=progress)
