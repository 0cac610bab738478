"""Shared fixtures of the Python package tests (run: /usr/bin/python3 -m pytest tests/python; scripts/test_python.sh).

Environment:
  LP_SHARED_FIXTURES  trained fixture models (default: ../shared/fixtures next to the repository)
  LP_CLI_DIR          folder with llama-pajamas-quant / llama-pajamas-run to compare against (default: build/release/apps)
  LP_REQUIRE_PEERS=1  a missing fixture or CLI fails the test instead of skipping it
"""
import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("LP_SHARED_FIXTURES", ROOT.parent / "shared" / "fixtures"))
CLI_DIR = Path(os.environ.get("LP_CLI_DIR", ROOT / "build" / "release" / "apps"))
REQUIRE = os.environ.get("LP_REQUIRE_PEERS") == "1"


def missing(what: str):
    if REQUIRE:
        pytest.fail(f"{what} is missing (LP_REQUIRE_PEERS=1)")
    pytest.skip(f"{what} is missing")


def fixture_path(name: str) -> Path:
    p = FIXTURES / name
    if not p.exists():
        missing(f"fixture {p}")
    return p


@pytest.fixture(scope="session")
def tiny_qwen3() -> Path:
    return fixture_path("tiny-qwen3")


@pytest.fixture(scope="session")
def heldout() -> Path:
    return fixture_path("heldout.txt")


class Cli:
    def __init__(self, exe: Path):
        self.exe = exe

    def run(self, *args, check=True):
        r = subprocess.run([str(self.exe), *map(str, args)], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise AssertionError(f"{self.exe.name} {' '.join(map(str, args))}: rc {r.returncode}: {r.stderr}")
        return r

    def json(self, *args):
        return json.loads(self.run(*args).stdout)


def _cli(name: str) -> Cli:
    exe = CLI_DIR / name
    if not exe.exists():
        missing(f"CLI {exe} (build it: cmake --build --preset release --target {name})")
    return Cli(exe)


@pytest.fixture(scope="session")
def quant_cli() -> Cli:
    return _cli("llama-pajamas-quant")


@pytest.fixture(scope="session")
def run_cli() -> Cli:
    return _cli("llama-pajamas-run")
