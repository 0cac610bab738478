// node-llama-cpp (llama.cpp) as the peer, on the same ggml CPU code path on every x86 machine.
//
// On a CPU with AMX (Sapphire Rapids and later) ggml loads the prebuilt's "sapphirerapids" CPU variant, whose AMX
// matmul kernels quantize activations with FP16 block scales (ggml-cpu/amx/mmq.cpp, quantize_row_q8_K_vnni) instead
// of ggml's reference rounding (float scales: quantize_row_q8_K / q8_0). Measured on such a machine against our
// engine, tiny-qwen3 Q8_0: |dlogp| mean 1.7e-3 (7.0e-4 without AMX) and top-1 flips at margins up to 2.3e-2; the F32
// rows are unchanged. Our engine reproduces ggml's reference path, which llama.cpp runs on every CPU without AMX
// (AVX2 and AVX-512 VNNI alike), so on an AMX machine the peer is pinned to the best variant without AMX:
// node-llama-cpp loads the CPU variants from the folder of its prebuilt package (@node-llama-cpp/linux-x64), so
// that package is offered from a scratch folder (its two small files copied, every binary linked) that lacks the
// AMX variant, by a module resolve hook. Nothing in node_modules is changed. LP_PEER_CPU_VARIANT=any leaves ggml's
// own choice (to measure the AMX path).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { register } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

const PACKAGE = "@node-llama-cpp/linux-x64";
const AMX_VARIANTS = /^libggml-cpu-sapphirerapids\.so$/;

function cpuHasAmx() {
  try {
    return /\bamx_int8\b/.test(fs.readFileSync("/proc/cpuinfo", "utf8"));
  } catch {
    return false;
  }
}

// What the peer's CPU backend is: "ggml's choice" or the pinning, for the tests' logs.
export let peerCpuVariant = "ggml's choice";
let pinned = false;

// Call before node-llama-cpp loads its binaries (getPeerLlama does).
export function pinPeerCpuVariant() {
  if (pinned || process.platform !== "linux" || process.arch !== "x64") return;
  pinned = true;
  if (process.env.LP_PEER_CPU_VARIANT === "any" || !cpuHasAmx()) return;
  let pkg;
  try {
    pkg = path.dirname(path.dirname(fileURLToPath(import.meta.resolve(PACKAGE))));  // exports only dist/index.js
  } catch {
    return;  // no prebuilt package: node-llama-cpp reports that itself
  }
  const bins = path.join(pkg, "bins", "linux-x64");
  if (!fs.existsSync(bins)) return;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "lp-peer-cpu-"));
  process.on("exit", () => fs.rmSync(scratch, { recursive: true, force: true }));
  fs.mkdirSync(path.join(scratch, "dist"));
  fs.mkdirSync(path.join(scratch, "bins", "linux-x64"), { recursive: true });
  fs.copyFileSync(path.join(pkg, "package.json"), path.join(scratch, "package.json"));
  fs.copyFileSync(path.join(pkg, "dist", "index.js"), path.join(scratch, "dist", "index.js"));
  const left = [];
  for (const f of fs.readdirSync(bins)) {
    if (AMX_VARIANTS.test(f)) left.push(f);
    else fs.symlinkSync(path.join(bins, f), path.join(scratch, "bins", "linux-x64", f));
  }
  const target = pathToFileURL(path.join(scratch, "dist", "index.js")).href;
  const hook = `export async function resolve(s, c, next) {
    return s === ${JSON.stringify(PACKAGE)} ? { url: ${JSON.stringify(target)}, shortCircuit: true } : next(s, c);
  }`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
  peerCpuVariant = `AMX CPU: ggml's best CPU variant without AMX (left out: ${left.join(", ") || "none"})`;
}

export async function getPeerLlama(options) {
  pinPeerCpuVariant();
  const { getLlama } = await import("node-llama-cpp");
  return getLlama(options);
}
