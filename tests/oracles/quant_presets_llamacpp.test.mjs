// Peer test (issue #15): the i-quant mixes iq1_s iq1_m iq2_xxs iq2_xs iq2_s iq2_m iq3_xxs iq3_xs iq3_s iq3_m, our plan
// against llama.cpp's own quantizer. The peer is llama_model_quantize from node-llama-cpp's libllama (the function
// llama-quantize's main() calls) through lib/llama_quantize.py, run on our F32 GGUF of the same checkpoint with the
// same legacy imatrix. Per preset, every tensor of llama.cpp's output must have our output's ggml type (llama.cpp's
// per-preset rules for attn_v, attn_k/q, ffn_down / up / gate, attn_output, output and token embeddings), and the
// same bytes (the quantizers are proven block for block by quant_ggml.test.mjs; here the rows, importance and
// type choices meet in a whole file). Models: a generated dense qwen3 with 8 layers (so the "first eighth" and
// "middle layers" rules pick real layers; GQA 2) and a generated qwen3moe with 8 experts and GQA 4 (llama.cpp's
// n_expert == 8 and n_gqa >= 4 branches; three mixes there, one per branch n_expert changes). IQ3_S/IQ3_M are
// also compared without an imatrix (llama.cpp allows that); the other mixes without one must be refused by both.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { readGgufFileInfo } from "node-llama-cpp";
import { quantBin, oraclesDir, skipUnless } from "./lib/paths.mjs";
import { quant, tempDir, generateTiny, runBinary } from "./lib/run.mjs";
import { gated, firstReason } from "./lib/require.mjs";
import { rng, writeLegacyImatrix } from "./lib/imatrix.mjs";

const FTYPE = { iq2_xxs: 19, iq2_xs: 20, iq3_xs: 22, iq3_xxs: 23, iq1_s: 24, iq3_s: 26, iq3_m: 27, iq2_s: 28, iq2_m: 29, iq1_m: 31 };
// Without an imatrix llama.cpp makes only the mixes that place no IQ1/IQ2/IQ3_XXS tensor (IQ3_XS puts IQ3_XXS on
// attn_q/attn_k and the middle ffn_up/gate).
const NO_IMATRIX_OK = ["iq3_s", "iq3_m"];

function libllama() {
  const plat = `${process.platform}-${process.arch}`;
  const dir = path.join(oraclesDir, "node_modules", "@node-llama-cpp", plat, "bins", plat);
  if (!fs.existsSync(dir)) return null;
  const f = fs.readdirSync(dir).find((n) => /^libllama(\.v[\d.]+)?\.so$/.test(n));
  return f ? path.join(dir, f) : null;
}
const peerMissing = () => (libllama() ? false : "libllama from @node-llama-cpp not found");
const missing = () => firstReason(skipUnless(quantBin), peerMissing());



async function tensors(file) {
  const info = await readGgufFileInfo(file, { readTensorInfo: true, logWarnings: false, spliceSplitFiles: false });
  return new Map(info.tensorInfo.map((t) => [t.name, t]));
}

// Bytes of one tensor: from its file offset to the next tensor's (alignment padding included, zero on both sides).
function tensorBytes(file, table, name) {
  const all = [...table.values()].sort((a, b) => Number(a.fileOffset) - Number(b.fileOffset));
  const i = all.findIndex((t) => t.name === name);
  const start = Number(all[i].fileOffset);
  const end = i + 1 < all.length ? Number(all[i + 1].fileOffset) : fs.statSync(file).size;
  const fd = fs.openSync(file, "r");
  const buf = Buffer.alloc(end - start);
  fs.readSync(fd, buf, 0, buf.length, start);
  fs.closeSync(fd);
  return buf;
}

const MODELS = [
  { name: "qwen3-8L", family: "qwen3", args: ["--hidden", "256", "--layers", "8", "--ffn", "512", "--heads", "4", "--kv-heads", "2",
    "--head-dim", "64", "--vocab", "1024", "--untie"] },
  { name: "qwen3moe-8x", family: "qwen3moe", args: ["--hidden", "256", "--layers", "8", "--ffn", "256", "--heads", "8", "--kv-heads", "2",
    "--head-dim", "32", "--experts", "8", "--experts-per-tok", "2", "--vocab", "1024"],
    // One mix per branch that n_expert == 8 changes (sub-2.7-bit, IQ3_XXS, IQ3_M's ffn_down): the quantizers are slow.
    presets: ["iq2_xs", "iq3_xxs", "iq3_m"] },
];

for (const m of MODELS) {
  test(`i-quant mixes: our per-tensor types and bytes equal llama_model_quantize's (${m.name})`, { timeout: 900_000 }, gated(missing, async () => {
    const dir = tempDir("lp-quant-presets-");
    const model = generateTiny(m.family, path.join(dir, "hf"), ["--dtype", "f32", "--seed", "5", ...m.args]);
    const convert = (out, extra) => {
      quant(["convert", model, "-o", out, "--formats", "gguf", "-q", "--no-architecture-aware", ...extra]);
      const g = path.join(out, "gguf");
      return path.join(g, fs.readdirSync(g).find((f) => f.endsWith(".gguf")));
    };
    const f32 = convert(path.join(dir, "f32"), ["--precision", "f32"]);
    const f32Table = await tensors(f32);
    // Importance for every matrix llama-imatrix would see (not token_embd / output).
    const imatrix = new Map();
    let k = 0;
    for (const t of f32Table.values()) {
      if (t.dimensions.length < 2 || t.name === "token_embd.weight" || t.name === "output.weight") continue;
      const r = rng(99 + k++);
      const experts = t.dimensions.length > 2 ? Number(t.dimensions[2]) : 1;
      imatrix.set(t.name, Array.from({ length: Number(t.dimensions[0]) * experts }, () => 0.05 + Math.pow(r() * 2, 3)));
    }
    const imatrixFile = path.join(dir, "imatrix.dat");
    writeLegacyImatrix(imatrixFile, imatrix, "quant_presets_llamacpp.test.mjs");

    const runs = [];
    for (const preset of m.presets ?? Object.keys(FTYPE)) {
      runs.push({ preset, imatrix: true });
      if (NO_IMATRIX_OK.includes(preset)) runs.push({ preset, imatrix: false });
    }
    const summary = [];
    for (const run of runs) {
      const tag = `${run.preset}${run.imatrix ? "+imatrix" : ""}`;
      const ours = convert(path.join(dir, tag), ["--precision", run.preset, ...(run.imatrix ? ["--imatrix", imatrixFile] : [])]);
      const theirs = path.join(dir, `${tag}-llama.gguf`);
      const r = spawnSync("python3", [path.join(oraclesDir, "lib", "llama_quantize.py"), libllama(), f32, theirs,
        String(FTYPE[run.preset]), ...(run.imatrix ? [imatrixFile] : [])], { encoding: "utf8", maxBuffer: 1 << 28 });
      assert.equal(r.status, 0, `${tag}: llama_model_quantize failed:\n${r.stderr.slice(-3000)}`);
      const a = await tensors(ours), b = await tensors(theirs);
      assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort(), `${tag}: tensor names differ`);
      const typeDiff = [], byteDiff = [];
      const mix = {};
      for (const [name, t] of b) {
        const o = a.get(name);
        if (o.ggmlType !== t.ggmlType) typeDiff.push(`${name}: ours ${o.ggmlType} llama.cpp ${t.ggmlType}`);
        else if (!tensorBytes(ours, a, name).equals(tensorBytes(theirs, b, name))) byteDiff.push(name);
        mix[t.ggmlType] = (mix[t.ggmlType] ?? 0) + 1;
      }
      summary.push(`${tag}: ${b.size} tensors, types ${JSON.stringify(mix)}`);
      assert.deepEqual(typeDiff, [], `${tag}: per-tensor types differ from llama.cpp's`);
      assert.deepEqual(byteDiff, [], `${tag}: tensor bytes differ from llama.cpp's`);
    }
    console.log(summary.join("\n"));
    // Without an imatrix the IQ1/IQ2/IQ3_XXS mixes are refused, by llama.cpp and by us (naming --imatrix).
    for (const preset of (m.presets ?? Object.keys(FTYPE)).filter((p) => !NO_IMATRIX_OK.includes(p))) {
      const mine = runBinary(quantBin, ["convert", model, "-o", path.join(dir, `${preset}-noimatrix`), "--formats", "gguf", "-q",
        "--no-architecture-aware", "--precision", preset]);
      assert.notEqual(mine.code, 0, `${preset} without an imatrix was not refused`);
      assert.match(mine.stderr, /needs an importance matrix.*--imatrix.*--calibration/s, `${preset}: ${mine.stderr}`);
      const r = spawnSync("python3", [path.join(oraclesDir, "lib", "llama_quantize.py"), libllama(), f32,
        path.join(dir, `${preset}-noimatrix-llama.gguf`), String(FTYPE[preset])], { encoding: "utf8" });
      assert.notEqual(r.status, 0, `llama.cpp quantized ${preset} without an imatrix`);
    }
  }));
}
