// libggml-base from node-llama-cpp (llama.cpp's ggml) as a peer for block quantization and decoding, called through
// lib/ggml_peer.py (python3 ctypes). See that file for the job format.
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { oraclesDir } from "./paths.mjs";

// node-llama-cpp's prebuilt CPU binaries for this platform (the package node-llama-cpp itself loads).
export function libggmlBase() {
  const plat = `${process.platform}-${process.arch}`;
  const lib = path.join(oraclesDir, "node_modules", "@node-llama-cpp", plat, "bins", plat, "libggml-base.so");
  return fs.existsSync(lib) ? lib : null;
}

// A prerequisite reason (lib/require.mjs): false when libggml-base and python3 with ctypes are present.
export function ggmlPeerMissing() {
  if (!libggmlBase()) return `libggml-base.so of @node-llama-cpp/${process.platform}-${process.arch} not found under ${oraclesDir}/node_modules`;
  if (spawnSync("python3", ["-c", "import ctypes"]).status !== 0) return "python3 (with ctypes) not found";
  return false;
}

// Runs jobs; returns one result per job ({name, blocks, differ, first, row, col, ggml_hex, ours_hex}).
export function ggmlPeer(jobs) {
  const r = spawnSync("python3", [path.join(oraclesDir, "lib", "ggml_peer.py")],
    { input: JSON.stringify({ lib: libggmlBase(), jobs }), encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`lib/ggml_peer.py exited ${r.status ?? r.signal}: ${r.stderr}`);
  const { results } = JSON.parse(r.stdout);
  if (results.length !== jobs.length) throw new Error(`lib/ggml_peer.py: ${results.length} results for ${jobs.length} jobs`);
  return results;
}

export function describeDifference(x) {
  return `${x.name}: ${x.differ}/${x.blocks} blocks differ, first at row ${x.row} col ${x.col}\n  ggml ${x.ggml_hex}\n  ours ${x.ours_hex}`;
}
