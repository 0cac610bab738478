import hashlib
import json

import pytest

import llama_pajamas
from llama_pajamas import quant


def test_detect_equals_cli_json(tiny_qwen3, quant_cli):
    report = quant.detect(tiny_qwen3)
    cli = json.loads(quant_cli.run("detect", "--json", tiny_qwen3).stdout)
    # The CLI adds two things about this machine and this invocation, not about the model: whether it fits the
    # memory available now (live, changes between calls) and the convert command to run (docs/PYTHON.md).
    assert set(cli) - set(report.to_dict()) == {"memory", "recommended_command"}
    del cli["memory"], cli["recommended_command"]
    assert report.to_dict() == cli
    assert report.architecture == "qwen3"
    assert report.family == cli["family"]
    text = quant_cli.run("detect", tiny_qwen3).stdout
    assert text.startswith(str(report)) and "\nrun: " in text[len(str(report)):]


def test_detect_bad_path_same_message(tmp_path, quant_cli):
    bad = tmp_path / "nope"
    with pytest.raises(llama_pajamas.Error) as e:
        quant.detect(bad)
    cli = quant_cli.run("detect", bad, check=False)
    assert cli.returncode == 1
    assert cli.stderr.strip() == f"error: {e.value}"
    assert isinstance(e.value, RuntimeError)


def test_plan_equals_cli(tiny_qwen3, quant_cli):
    assert quant.plan(tiny_qwen3, "q4_k_m") == quant_cli.json("plan", tiny_qwen3, "--precision", "q4_k_m", "--json")
    both = quant.plan(tiny_qwen3, "q4_k_m:4bit")
    assert isinstance(both, list) and len(both) == 2
    assert both == quant_cli.json("plan", tiny_qwen3, "--precision", "q4_k_m:4bit", "--json")


def test_plan_bad_precision(tiny_qwen3, quant_cli):
    with pytest.raises(llama_pajamas.Error) as e:
        quant.plan(tiny_qwen3, "q9_z")
    cli = quant_cli.run("plan", tiny_qwen3, "--precision", "q9_z", check=False)
    assert cli.returncode == 1 and cli.stderr.strip() == f"error: {e.value}"


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_convert_equals_cli_with_progress(tiny_qwen3, quant_cli, tmp_path):
    calls = []
    out = tmp_path / "py"
    summary = quant.convert(tiny_qwen3, out, formats=["gguf"], precision="q8_0", threads=2,
                            progress=lambda label, done, total: calls.append((label, done, total)))
    assert [a["precision"] for a in summary["artifacts"]] == ["Q8_0"]
    cli_out = tmp_path / "cli"
    cli = quant_cli.json("convert", tiny_qwen3, "-o", cli_out, "--formats", "gguf", "--precision", "q8_0", "-t", "2", "--json")
    assert [a["path"] for a in summary["artifacts"]] == [a["path"] for a in cli["artifacts"]]
    for a in summary["artifacts"]:
        assert _sha(out / a["path"]) == _sha(cli_out / a["path"]), a["path"]
    assert calls, "progress callback never called"
    assert calls[-1][1] == calls[-1][2]  # the last update of a stage is complete


def test_convert_progress_exception_propagates(tiny_qwen3, tmp_path):
    def boom(label, done, total):
        raise ValueError("stop here")

    with pytest.raises(ValueError, match="stop here"):
        quant.convert(tiny_qwen3, tmp_path / "x", formats="gguf", precision="q8_0", progress=boom)


def test_convert_bad_format(tiny_qwen3, tmp_path):
    with pytest.raises(llama_pajamas.Error, match="unknown format 'onnx'"):
        quant.convert(tiny_qwen3, tmp_path / "x", formats=["onnx"])
    assert not (tmp_path / "x").exists()


def test_validate_perplexity_equals_cli(tiny_qwen3, heldout, quant_cli, tmp_path):
    out = tmp_path / "m"
    quant.convert(tiny_qwen3, out, formats="gguf", precision="q8_0", threads=2)
    args = dict(metrics="perplexity", corpus=heldout, ctx=128, max_tokens=1024, threads=2, write=False)
    py = quant.validate(tiny_qwen3, out, **args)
    cli = quant_cli.json("validate", "--original", tiny_qwen3, "--quantized", out, "--metrics", "perplexity",
                         "--corpus", heldout, "-c", "128", "--chunks", "8", "-t", "2", "--no-write", "--json")
    def drop_times(j):
        if isinstance(j, dict):
            # wall times, the timestamp and the temporary reference GGUF's path differ between two runs
            return {k: drop_times(v) for k, v in j.items() if "seconds" not in k and k not in ("created", "reference_gguf")}
        if isinstance(j, list):
            return [drop_times(v) for v in j]
        return j
    assert drop_times(py) == drop_times(cli)
    assert py["original"]["perplexity"] == cli["original"]["perplexity"]
    assert [f["perplexity"] for f in py["formats"]] == [f["perplexity"] for f in cli["formats"]]
    assert py["all_pass"] == cli["all_pass"]
    assert py["original"]["perplexity"] == cli["original"]["perplexity"]
    assert [f["perplexity"] for f in py["formats"]] == [f["perplexity"] for f in cli["formats"]] and py["all_pass"] == cli["all_pass"]


def test_calibrate_equals_cli(tiny_qwen3, heldout, quant_cli, tmp_path):
    calls = []
    py = quant.calibrate(tiny_qwen3, heldout, tmp_path / "py.gguf", ctx=128, chunks=4, threads=2,
                         progress=lambda *a: calls.append(a))
    cli = quant_cli.json("calibrate", tiny_qwen3, "--calibration", heldout, "-o", tmp_path / "cli.gguf", "--ctx", "128",
                         "--chunks", "4", "-t", "2", "--json")
    for k in ("chunks", "ctx", "tokens", "tensors", "notes", "format"):
        assert py[k] == cli[k], k
    assert _sha(tmp_path / "py.gguf") == _sha(tmp_path / "cli.gguf")
    assert calls
