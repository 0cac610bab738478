"""Model download from the Hugging Face hub (or HF_ENDPOINT) into the shared hub cache; see docs/DOWNLOAD.md.

    from llama_pajamas import hub
    info = hub.download("Qwen/Qwen3-0.6B")          # configs, tokenizer, *.safetensors, *.gguf
    quant.detect(info["snapshot"])                   # or simply quant.detect("Qwen/Qwen3-0.6B")
"""
from __future__ import annotations

import os
from typing import Any, Dict, Optional, Sequence, Union

from . import _core
from ._core import Error

__all__ = ["download", "Error"]


def download(repo_id: str, revision: str = "main", include: Union[None, str, Sequence[str]] = None,
             output: Union[None, str, "os.PathLike[str]"] = None, token: Optional[str] = None, all_files: bool = False,
             parallel: int = 4) -> Dict[str, Any]:
    """Same as `llama-pajamas-quant download REPO_ID --json`: returns commit, snapshot folder, files, bytes fetched.
    token: else HF_TOKEN, else $HF_HOME/token. include: glob(s); default the model files unless all_files."""
    if isinstance(include, str):
        include = [include]
    patterns = list(include or ([] if all_files else _core.default_model_patterns()))
    return _core.download(repo_id, revision=revision, include=patterns, output=os.fspath(output) if output else "",
                          token=token or "", parallel=parallel)
