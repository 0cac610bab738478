"""`llama-pajamas-quant download` and repo-id resolution against a mock hub on 127.0.0.1 (tests/python/mock_hub.py)."""
import hashlib
import json
import os
import socket

import pytest

from mock_hub import MockHub, Repo

REPO = "test-org/tiny-qwen3"
GATED = "test-org/gated"


@pytest.fixture
def hub(tiny_qwen3):
    with MockHub([Repo(REPO, tiny_qwen3), Repo(GATED, tiny_qwen3, gated_token="good-token")]) as h:
        yield h


@pytest.fixture
def hf_env(tmp_path, hub):
    env = dict(os.environ)
    for k in ("HF_TOKEN", "HF_HUB_OFFLINE", "HF_HUB_CACHE", "XDG_CACHE_HOME"):
        env.pop(k, None)
    env.update(HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT=hub.endpoint)
    return env


def run(cli, env, *args, check=True):
    import subprocess
    r = subprocess.run([str(cli.exe), *map(str, args)], capture_output=True, text=True, env=env, timeout=120)
    if check and r.returncode != 0:
        raise AssertionError(f"rc {r.returncode}: {r.stderr}")
    return r


def repo_dir(env, repo=REPO):
    return os.path.join(env["HF_HOME"], "hub", "models--" + repo.replace("/", "--"))


def dead_endpoint():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return f"http://127.0.0.1:{port}"


def test_fresh_download_hub_layout(hub, hf_env, quant_cli, tiny_qwen3):
    r = json.loads(run(quant_cli, hf_env, "download", REPO, "--json").stdout)
    commit = hub.repos[REPO].commit
    d = repo_dir(hf_env)
    assert r["commit"] == commit and r["snapshot"] == os.path.join(d, "snapshots", commit)
    assert open(os.path.join(d, "refs", "main")).read().strip() == commit
    assert sorted(r["files"]) == sorted(p.name for p in tiny_qwen3.iterdir() if p.suffix in (".json", ".safetensors"))
    for name in r["files"]:
        link = os.path.join(r["snapshot"], name)
        assert os.path.islink(link) and not os.path.isabs(os.readlink(link))
        assert open(link, "rb").read() == (tiny_qwen3 / name).read_bytes()
    st = (tiny_qwen3 / "model.safetensors").read_bytes()
    assert os.path.basename(os.readlink(os.path.join(r["snapshot"], "model.safetensors"))) == hashlib.sha256(st).hexdigest()
    assert r["downloaded_bytes"] == sum((tiny_qwen3 / n).stat().st_size for n in r["files"])
    # the tree listing was paginated and followed; LFS went through the redirect
    assert any("cursor=" in p for _, p, _ in hub.requests)
    assert any(p.startswith("/cdn/") for _, p, _ in hub.requests)
    # a second run finds everything cached
    again = json.loads(run(quant_cli, hf_env, "download", REPO, "--json").stdout)
    assert again["downloaded_bytes"] == 0 and again["cached_files"] == len(r["files"])


def test_include_and_output(hub, hf_env, quant_cli, tmp_path, tiny_qwen3):
    out = tmp_path / "local"
    r = json.loads(run(quant_cli, hf_env, "download", REPO, "--include", "config.json", "--include", "tokenizer*",
                       "--output", out, "--json").stdout)
    assert sorted(r["files"]) == ["config.json", "tokenizer.json", "tokenizer_config.json"]
    assert (out / "config.json").read_bytes() == (tiny_qwen3 / "config.json").read_bytes()
    assert not (out / "config.json").is_symlink()


def test_resume_after_cut(hub, hf_env, quant_cli, tiny_qwen3):
    size = (tiny_qwen3 / "model.safetensors").stat().st_size
    cut = size // 2
    hub.cut_after = cut
    r = run(quant_cli, hf_env, "download", REPO, "--json", check=False)
    assert r.returncode == 1 and "interrupted" in r.stderr and "resume" in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1
    sha = hashlib.sha256((tiny_qwen3 / "model.safetensors").read_bytes()).hexdigest()
    part = os.path.join(repo_dir(hf_env), "blobs", sha + ".incomplete")
    assert os.path.getsize(part) == cut
    assert not os.path.exists(os.path.join(repo_dir(hf_env), "snapshots", hub.repos[REPO].commit, "model.safetensors"))
    hub.requests.clear()
    r = json.loads(run(quant_cli, hf_env, "download", REPO, "--json").stdout)
    assert ("GET", f"/cdn/{REPO}/{sha}", f"bytes={cut}-") in hub.requests
    small = sum(p.stat().st_size for p in tiny_qwen3.iterdir() if p.suffix == ".json")
    assert r["downloaded_bytes"] <= size - cut + small  # the cut file resumed, not restarted
    link = os.path.join(r["snapshot"], "model.safetensors")
    assert open(link, "rb").read() == (tiny_qwen3 / "model.safetensors").read_bytes()
    assert not os.path.exists(part)


def test_corrupted_blob(hub, hf_env, quant_cli, tiny_qwen3):
    hub.corrupt = True
    r = run(quant_cli, hf_env, "download", REPO, "--include", "model.safetensors", check=False)
    assert r.returncode == 1 and "SHA-256 mismatch" in r.stderr and "model.safetensors" in r.stderr, r.stderr
    d = repo_dir(hf_env)
    assert not any(n.endswith(".incomplete") for n in os.listdir(os.path.join(d, "blobs")))
    snap = os.path.join(d, "snapshots")
    assert not os.path.exists(snap) or not any(files for _, _, files in os.walk(snap))


def test_gated_repo_401(hub, hf_env, quant_cli):
    r = run(quant_cli, hf_env, "download", GATED, check=False)
    assert r.returncode == 1 and "HTTP 401" in r.stderr and "HF_TOKEN" in r.stderr, r.stderr
    run(quant_cli, hf_env, "download", GATED, "--token", "good-token", "--include", "config.json")
    env = dict(hf_env, HF_TOKEN="good-token")
    run(quant_cli, env, "download", GATED, "--include", "tokenizer.json")
    r = run(quant_cli, hf_env, "download", GATED, "--token", "bad", check=False)
    assert r.returncode == 1 and "HTTP 401" in r.stderr


def test_unknown_revision_and_repo_404(hub, hf_env, quant_cli):
    r = run(quant_cli, hf_env, "download", REPO, "--revision", "nope", check=False)
    assert r.returncode == 1 and "HTTP 404" in r.stderr and "nope" in r.stderr, r.stderr
    r = run(quant_cli, hf_env, "download", "test-org/missing", check=False)
    assert r.returncode == 1 and "HTTP 404" in r.stderr


def test_cache_hit_without_network(hub, hf_env, quant_cli, tiny_qwen3):
    run(quant_cli, hf_env, "download", REPO)
    hub.stop()
    env = dict(hf_env, HF_ENDPOINT=dead_endpoint())
    # detect/plan take the repo id and resolve it through the cache: no network needed
    def model_report(*args):  # the model's report; `memory` is live machine state, `recommended_command` echoes MODEL
        j = json.loads(run(quant_cli, env, "detect", "--json", *args).stdout)
        del j["memory"], j["recommended_command"]
        return j
    assert model_report(REPO) == model_report(tiny_qwen3)
    assert json.loads(run(quant_cli, env, "plan", REPO, "--precision", "q8_0", "--json").stdout) == \
        json.loads(run(quant_cli, env, "plan", tiny_qwen3, "--precision", "q8_0", "--json").stdout)
    r = run(quant_cli, env, "download", REPO, "--json")
    assert json.loads(r.stdout)["offline"] is True
    run(quant_cli, dict(env, HF_HUB_OFFLINE="1"), "download", REPO)


def test_no_network_no_cache(hf_env, quant_cli):
    env = dict(hf_env, HF_ENDPOINT=dead_endpoint())
    r = run(quant_cli, env, "download", REPO, check=False)
    assert r.returncode == 1 and "cannot reach" in r.stderr and repo_dir(env) in r.stderr, r.stderr
    r = run(quant_cli, env, "detect", REPO, check=False)
    assert r.returncode == 1 and "cannot reach" in r.stderr and r.stderr.count("\n") == 1


def test_python_api_takes_repo_id(hub, hf_env, monkeypatch, tiny_qwen3):
    from llama_pajamas import quant
    from llama_pajamas.run import Runtime

    for k in ("HF_TOKEN", "HF_HUB_OFFLINE", "HF_HUB_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("HF_HOME", hf_env["HF_HOME"])
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    assert quant.detect(REPO).to_json() == quant.detect(tiny_qwen3).to_json()  # downloads on a cache miss
    assert os.path.isdir(os.path.join(repo_dir(hf_env), "snapshots", hub.repos[REPO].commit))
    hub.stop()
    monkeypatch.setenv("HF_ENDPOINT", dead_endpoint())
    with Runtime(REPO + "@main", threads=1) as rt:  # cache hit, no network
        assert rt.generate("In the beginning", max_tokens=4, temperature=0) != ""


def test_python_download(hub, hf_env, monkeypatch, tmp_path, tiny_qwen3):
    from llama_pajamas import hub as lphub

    for k in ("HF_TOKEN", "HF_HUB_OFFLINE", "HF_HUB_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("HF_HOME", hf_env["HF_HOME"])
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    r = lphub.download(GATED, include="config.json", token="good-token", output=tmp_path / "o")
    assert r["files"] == ["config.json"] and r["downloaded_bytes"] == (tiny_qwen3 / "config.json").stat().st_size
    assert (tmp_path / "o" / "config.json").read_bytes() == (tiny_qwen3 / "config.json").read_bytes()
    import llama_pajamas
    with pytest.raises(llama_pajamas.Error, match="HTTP 401"):
        lphub.download(GATED)
    with pytest.raises(llama_pajamas.Error, match="HTTP 404"):
        lphub.download(REPO, revision="nope")
