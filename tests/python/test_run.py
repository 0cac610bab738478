import gc
import json

import numpy as np
import pytest

import llama_pajamas
from llama_pajamas.run import Runtime

PROMPT = "In the beginning"


@pytest.fixture(scope="module")
def rt(tiny_qwen3):
    with Runtime(tiny_qwen3, threads=2) as r:
        yield r


def test_greedy_generate_equals_cli(rt, tiny_qwen3, run_cli):
    text = rt.generate(PROMPT, max_tokens=24, temperature=0)
    cli = run_cli.json("generate", "-m", tiny_qwen3, "-p", PROMPT, "-n", "24", "--temp", "0", "-t", "2", "--json")
    assert text == cli["text"]
    assert rt.last_result.tokens == cli["tokens"]
    assert rt.last_result.stop_reason == cli["stop_reason"]
    assert len(text) > 0


def test_seeded_sampling_equals_cli(rt, tiny_qwen3, run_cli):
    text = rt.generate(PROMPT, max_tokens=16, temperature=0.8, seed=7)
    cli = run_cli.json("generate", "-m", tiny_qwen3, "-p", PROMPT, "-n", "16", "--temp", "0.8", "-s", "7", "-t", "2", "--json")
    assert text == cli["text"]


def test_stream_reassembles_to_generate(rt):
    full = rt.generate(PROMPT, max_tokens=32, temperature=0)
    s = rt.stream(PROMPT, max_tokens=32, temperature=0)
    pieces = list(s)
    assert len(pieces) > 1
    assert "".join(pieces) == full
    assert s.result.text == full
    assert list(s) == []  # exhausted iterators stay exhausted


def test_stop_string(rt):
    full = rt.generate(PROMPT, max_tokens=32, temperature=0)
    cut = full.split("\n")[0]
    assert rt.generate(PROMPT, max_tokens=32, temperature=0, stop="\n") == cut
    assert rt.last_result.stop_reason == "stop"


def test_tokenize_roundtrip_equals_cli(rt, tiny_qwen3, run_cli):
    ids = rt.tokenize(PROMPT)
    assert ids == json.loads(run_cli.run("tokenize", "--model", tiny_qwen3, "--text", PROMPT, "--json").stdout)
    assert rt.detokenize(ids) == PROMPT


def test_logits_numpy(rt):
    ids = rt.tokenize(PROMPT)
    logits = rt.logits(ids)
    assert isinstance(logits, np.ndarray)
    assert logits.dtype == np.float32 and logits.shape == (len(ids), rt.info()["n_vocab"])
    assert logits.flags["C_CONTIGUOUS"] and logits.base is not None  # a view of the native buffer, not a copy
    rt.generate(PROMPT, max_tokens=1, temperature=0)
    assert int(np.argmax(logits[-1])) == rt.last_result.tokens[0]


def test_logits_equal_cli_top(rt, tiny_qwen3, run_cli):
    ids = rt.tokenize(PROMPT)
    logits = rt.logits(ids)
    cli = run_cli.json("logits", "-m", tiny_qwen3, "--tokens", ",".join(map(str, ids)), "--top-k", "3", "-t", "2", "--json")
    for row, pos in zip(logits, cli["positions"]):
        top = [e["id"] for e in pos["top"]]
        assert list(np.argsort(-row, kind="stable")[:3]) == top
        assert [float(row[i]) for i in top] == [e["logit"] for e in pos["top"]]


def test_perplexity_equals_cli(tiny_qwen3, heldout, run_cli):
    text = heldout.read_text()
    with Runtime(tiny_qwen3, threads=2, ctx=128) as r:
        py = r.perplexity(text, ctx=128, chunks=8, details=True)
    cli = run_cli.json("perplexity", "-m", tiny_qwen3, "-f", heldout, "-c", "128", "--chunks", "8", "-t", "2", "--json")
    assert py == cli  # every field, perplexity to the last digit of the double
    printed = run_cli.run("perplexity", "-m", tiny_qwen3, "-f", heldout, "-c", "128", "--chunks", "8", "-t", "2").stdout
    assert f"PPL = {py['perplexity']:.4f} +/- {py['perplexity_error']:.5f}" in printed


def test_split_kv_cache_types_equal_cli(tiny_qwen3, heldout, run_cli):
    text = heldout.read_text()
    with Runtime(tiny_qwen3, threads=2, ctx=128, cache_type_k="q8_0", cache_type_v="q4_0") as r:
        py = r.perplexity(text, ctx=128, chunks=4, details=True)
    assert py["cache_type"] == "q8_0/q4_0"
    cli = run_cli.json("perplexity", "-m", tiny_qwen3, "-f", heldout, "-c", "128", "--chunks", "4", "-t", "2",
                       "--cache-type-k", "q8_0", "--cache-type-v", "q4_0", "--json")
    assert py == cli


def test_chat(rt):
    msgs = [{"role": "user", "content": "Who made the heaven?"}]
    prompt = rt.apply_chat_template(msgs)
    assert "<|im_start|>user" in prompt and prompt.rstrip().endswith("assistant")
    reply = rt.chat(msgs, max_tokens=8, temperature=0)
    assert isinstance(reply, str) and rt.last_result.prompt_tokens > 0
    with pytest.raises(llama_pajamas.Error, match="tools are not supported"):
        rt.chat(msgs, tools=[{"type": "function", "function": {"name": "f"}}])


def test_errors_match_cli(tmp_path, run_cli):
    bad = tmp_path / "missing.gguf"
    with pytest.raises(llama_pajamas.Error) as e:
        Runtime(bad)
    cli = run_cli.run("generate", "-m", bad, "-p", "x", check=False)
    assert cli.returncode == 1 and cli.stderr.strip() == f"error: {e.value}"
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf at all")
    with pytest.raises(llama_pajamas.Error) as e:
        Runtime(junk)
    assert "\n" not in str(e.value) and str(junk) in str(e.value)


def test_bad_arguments(rt):
    with pytest.raises(llama_pajamas.Error, match="outside the vocabulary"):
        rt.logits([10**6])
    with pytest.raises(llama_pajamas.Error, match="empty"):
        rt.logits([])
    with pytest.raises(TypeError):
        rt.generate(123)
    with pytest.raises(llama_pajamas.Error, match="less than one chunk"):
        rt.perplexity("short", ctx=128)


def test_context_manager_frees(tiny_qwen3):
    with Runtime(tiny_qwen3, threads=1) as r:
        s = r.stream(PROMPT, max_tokens=8, temperature=0)
        next(s)
    assert r.closed
    with pytest.raises(llama_pajamas.Error, match="Runtime is closed"):
        r.generate("x")
    with pytest.raises(llama_pajamas.Error, match="closed"):
        next(s)


def _rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def test_no_leak_over_1000_generate_calls(rt, capsys):
    for _ in range(100):  # warm up allocator pools and caches
        rt.generate("And God said", max_tokens=2, temperature=0)
    gc.collect()
    before = _rss_kib()
    for i in range(1000):
        rt.generate("And God said", max_tokens=2, temperature=0.5, seed=i)
        if i % 10 == 0:
            list(rt.stream("Let there be", max_tokens=2, temperature=0))
    gc.collect()
    growth = _rss_kib() - before
    with capsys.disabled():
        print(f"\n[leak check] RSS growth over 1,000 generate + 100 stream calls: {growth} KiB")
    assert growth < 4096, f"RSS grew by {growth} KiB over 1,000 generate calls"


def test_long_calls_release_the_gil(tiny_qwen3, heldout):
    import threading
    import time

    text = heldout.read_text()
    with Runtime(tiny_qwen3, threads=1, ctx=256) as r:
        done = {}

        def work():
            t = time.monotonic()
            r.perplexity(text, ctx=256, chunks=12)  # one native call
            done["seconds"] = time.monotonic() - t

        th = threading.Thread(target=work)
        last, max_gap, loops = time.monotonic(), 0.0, 0
        th.start()
        while th.is_alive():
            now = time.monotonic()
            max_gap, last, loops = max(max_gap, now - last), now, loops + 1
        th.join()
    # Holding the GIL, the native call would stall this loop for its whole duration.
    assert done["seconds"] > 0.2, "the call is too short to tell"
    assert max_gap < done["seconds"] / 2, (max_gap, done["seconds"])
