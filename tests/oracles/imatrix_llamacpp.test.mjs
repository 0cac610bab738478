// Peer test: importance matrices travel both ways between us and llama.cpp's own tools (llama-imatrix,
// llama-quantize, compiled from node-llama-cpp's bundled sources by scripts/build_llama_tools.sh), on the trained
// tiny-qwen3 fixture:
//  (a) llama-quantize --imatrix OURS, where OURS is `calibrate`'s output (GGUF, and legacy .dat with
//      --legacy-format), quantizing our F32 GGUF, writes the same tensor bytes as our `convert --imatrix OURS`;
//  (b) our `convert --imatrix THEIRS`, where THEIRS is llama-imatrix's output (GGUF, and legacy .dat with
//      --output-format dat), writes the same tensor bytes as llama-quantize --imatrix THEIRS.
//  (c) on the same text and chunks, calibrate's importance equals llama-imatrix's column by column (a column-order error
//      shared by our writer and reader would pass (a), since both tools then read the same wrong file).
//  (d) the same on tiny-qwen35 (issue #20), whose linear-attention projections llama.cpp's converter reorders by value
//      head: every matrix, ssm_out's value-head columns included, in GGUF order.
// Precisions where the importance changes the bytes: Q4_K_M, IQ4_XS, Q2_K. A control proves it does: llama-quantize
// without an imatrix gives different tensors, so a file that was silently ignored (or read in another column order)
// cannot pass. Tensors are compared block by block through node-llama-cpp's GGUF parser; metadata differs by design
// (llama-quantize records quantize.imatrix.* keys).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { buildDir, quantBin, fixture, fixturesDir, fixtureMissing, skipUnless } from "./lib/paths.mjs";
import { quant, tempDir, mustRun } from "./lib/run.mjs";
import { gated, firstReason } from "./lib/require.mjs";
import { compareTensors, readTensors } from "./lib/gguf_tensors.mjs";

const toolsDir = path.join(buildDir, "llama.cpp", "bin");
const llamaQuantize = process.env.LLAMA_QUANTIZE ?? path.join(toolsDir, "llama-quantize");
const llamaImatrix = process.env.LLAMA_IMATRIX ?? path.join(toolsDir, "llama-imatrix");
const heldout = path.join(fixturesDir, "heldout.txt");
const missing = () => firstReason(fixtureMissing("tiny-qwen3"), skipUnless(quantBin, heldout),
  skipUnless(llamaQuantize, llamaImatrix) &&
  `${skipUnless(llamaQuantize, llamaImatrix)} (build them: scripts/build_llama_tools.sh ${path.relative(process.cwd(), buildDir) || buildDir} llama-quantize llama-imatrix)`);

// precision (ours) -> llama-quantize type name
const PRECISIONS = { q4_k_m: "Q4_K_M", iq4_xs: "IQ4_XS", q2_k: "Q2_K" };
const CTX = 256, CHUNKS = 8;

let ctx;
function prepare() {
  if (ctx) return ctx;
  const dir = tempDir("lp-imatrix-peer-");
  const out = path.join(dir, "f32");
  quant(["convert", fixture("tiny-qwen3"), "-o", out, "--formats", "gguf", "-p", "f32", "-q"]);
  const f32 = path.join(out, "gguf", fs.readdirSync(path.join(out, "gguf")).find((f) => f.endsWith(".gguf")));
  ctx = { dir, f32, theirsNone: {} };
  // Control: llama-quantize without an imatrix.
  for (const [p, T] of Object.entries(PRECISIONS)) {
    ctx.theirsNone[p] = path.join(dir, `llama-none-${p}.gguf`);
    mustRun(llamaQuantize, [f32, ctx.theirsNone[p], T, "2"]);
  }
  return ctx;
}

// Our convert with the imatrix (one run, every precision) and llama-quantize with it; compares each pair.
async function bothQuantizers(imatrixFile, tag) {
  const { dir, f32, theirsNone } = prepare();
  const out = path.join(dir, `ours-${tag}`);
  const summary = JSON.parse(quant(["convert", fixture("tiny-qwen3"), "-o", out, "--formats", "gguf", "-p",
    Object.keys(PRECISIONS).join(","), "--imatrix", imatrixFile, "--no-architecture-aware", "-q", "--json"]));
  const failures = [];
  for (const [p, T] of Object.entries(PRECISIONS)) {
    const ours = path.join(out, summary.artifacts.find((a) => a.format === "gguf" && a.precision.toLowerCase() === p).path);
    const theirs = path.join(dir, `llama-${tag}-${p}.gguf`);
    mustRun(llamaQuantize, ["--imatrix", imatrixFile, f32, theirs, T, "2"]);
    const cmp = await compareTensors(ours, theirs, ["ours", "llama-quantize"]);
    const control = await compareTensors(theirs, theirsNone[p], ["with imatrix", "without"]);
    console.log(`# ${tag} ${T}: ${cmp.tensors} tensors, ${cmp.blocks} blocks: ${cmp.differences.length} tensors differ ` +
      `(control: the imatrix changes ${control.differences.length} tensors)`);
    if (cmp.differences.length) failures.push(`${T}: ours vs llama-quantize --imatrix ${path.basename(imatrixFile)}:\n  ${cmp.differences.slice(0, 6).join("\n  ")}`);
    if (control.differences.length === 0) failures.push(`${T}: the imatrix changes nothing, so this case proves nothing`);
  }
  assert.deepEqual(failures, []);
}

// The imatrix files, made once each: ours by `calibrate`, theirs by llama-imatrix, same text, chunk size and chunks.
const made = {};
function oursFile(legacy) {
  const { dir } = prepare();
  const file = path.join(dir, legacy ? "ours.dat" : "ours.gguf");
  if (!made[file]) {
    quant(["calibrate", fixture("tiny-qwen3"), "--calibration", heldout, "--ctx", String(CTX), "--chunks", String(CHUNKS), "-o", file,
      "-q", "-t", "2", ...(legacy ? ["--legacy-format"] : [])]);
    made[file] = true;
  }
  return file;
}
function theirsFile(legacy) {
  const { dir, f32 } = prepare();
  const file = path.join(dir, legacy ? "theirs.dat" : "theirs.gguf");
  if (!made[file]) {
    mustRun(llamaImatrix, ["-m", f32, "-f", heldout, "-c", String(CTX), "--chunks", String(CHUNKS), "-o", file, "-t", "2",
      "--no-ppl", "--output-format", legacy ? "dat" : "gguf"]);
    made[file] = true;
  }
  return file;
}

// Mean squared activation per column (sums / count), read here: GGUF through node-llama-cpp's parser
// (<name>.in_sum2 / <name>.counts), legacy .dat by its layout (values / ncall).
async function readImportance(file) {
  const out = new Map();
  if (fs.readFileSync(file).subarray(0, 4).toString("latin1") === "GGUF") {
    const t = await readTensors(file);
    for (const [name, x] of t) {
      if (!name.endsWith(".in_sum2")) continue;
      const base = name.slice(0, -".in_sum2".length);
      const sums = new Float32Array(x.data.buffer.slice(x.data.byteOffset, x.data.byteOffset + x.data.length));
      const c = t.get(`${base}.counts`).data.readFloatLE(0);
      out.set(base, Array.from(sums, (v) => v / c));
    }
  } else {
    const b = fs.readFileSync(file);
    let p = 0;
    const i32 = () => { const v = b.readInt32LE(p); p += 4; return v; };
    for (let n = i32(); n > 0; n--) {
      const len = i32();
      const name = b.toString("utf8", p, p + len);
      p += len;
      const ncall = i32(), nval = i32();
      out.set(name, Array.from({ length: nval }, (_, i) => b.readFloatLE(p + 4 * i) / ncall));
      p += 4 * nval;
    }
  }
  return out;
}

function correlation(x, y) {
  const n = x.length, mx = x.reduce((a, b) => a + b, 0) / n, my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) ** 2; syy += (y[i] - my) ** 2; }
  return sxy / Math.sqrt(sxx * syy);
}

// (c) Same text, same chunks: our importance per column equals llama-imatrix's up to float summation (the byte tests
// above cannot see a column-order error that writer and reader share, since both tools then read the same wrong file).
for (const legacy of [false, true]) {
  test(`(c) calibrate's importance (${legacy ? "legacy .dat" : "GGUF"}) equals llama-imatrix's, column by column, on the same text`,
    { timeout: 900_000 }, gated(missing, async () => {
      const ours = await readImportance(oursFile(legacy)), theirs = await readImportance(theirsFile(legacy));
      const failures = [];
      let worstCorr = 1, worstMean = 0, n = 0;
      for (const [name, t] of theirs) {
        const o = ours.get(name);
        if (!o) { failures.push(`${name}: in llama-imatrix's file, not in ours`); continue; }
        if (o.length !== t.length) { failures.push(`${name}: ${o.length} columns, llama-imatrix ${t.length}`); continue; }
        const r = correlation(o, t);
        const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
        const dm = Math.abs(mean(o) / mean(t) - 1);
        worstCorr = Math.min(worstCorr, r);
        worstMean = Math.max(worstMean, dm);
        n++;
        if (!(r > 0.999) || !(dm < 0.01)) failures.push(`${name}: correlation ${r.toFixed(5)}, means ${mean(o)} vs ${mean(t)}`);
      }
      console.log(`# ${legacy ? "dat" : "gguf"}: ${n} tensors in both (ours only: ${[...ours.keys()].filter((k) => !theirs.has(k)).join(", ") || "none"}); ` +
        `worst correlation ${worstCorr.toFixed(6)}, worst mean difference ${(100 * worstMean).toFixed(3)}%`);
      assert.ok(n > 0, "no common tensors");
      assert.deepEqual(failures.slice(0, 10), []);
    }));
}

for (const legacy of [false, true]) {
  const fmt = legacy ? "legacy .dat" : "GGUF";
  test(`(a) llama-quantize --imatrix OURS (${fmt}) writes the bytes of our convert --imatrix OURS`, { timeout: 900_000 }, gated(missing, async () => {
    await bothQuantizers(oursFile(legacy), legacy ? "ours-dat" : "ours-gguf");
  }));
  test(`(b) our convert --imatrix THEIRS (llama-imatrix, ${fmt}) writes the bytes of llama-quantize --imatrix THEIRS`, { timeout: 900_000 }, gated(missing, async () => {
    await bothQuantizers(theirsFile(legacy), legacy ? "theirs-dat" : "theirs-gguf");
  }));
}

// (d) Issue #20: Qwen 3.5's linear-attention projections (attn_qkv, attn_gate, ssm_alpha, ssm_beta, ssm_out) get
// importance under llama.cpp's names, and in GGUF column order: ssm_out's columns are value heads, which the converter
// reorders from grouped-by-key-head to tiled, so an importance collected in checkpoint order would weigh the wrong
// columns. Same text and chunks as llama-imatrix on our F32 GGUF of tiny-qwen35: equal column by column. Control: the
// same vectors in checkpoint (grouped) head order fail this check, so it can see a head-order error.
const missing35 = () => firstReason(fixtureMissing("tiny-qwen35"), skipUnless(quantBin, heldout),
  skipUnless(llamaImatrix) && `${skipUnless(llamaImatrix)} (build it: scripts/build_llama_tools.sh ${path.relative(process.cwd(), buildDir) || buildDir} llama-imatrix)`);
test("(d) tiny-qwen35: calibrate's importance for the linear-attention projections equals llama-imatrix's, in GGUF (V-head reordered) column order",
  { timeout: 900_000 }, gated(missing35, async () => {
    const dir = tempDir("lp-imatrix-qwen35-");
    const out = path.join(dir, "f32");
    quant(["convert", fixture("tiny-qwen35"), "-o", out, "--formats", "gguf", "--precision", "f32", "-q"]);
    const f32 = path.join(out, "gguf", fs.readdirSync(path.join(out, "gguf")).find((f) => f.endsWith(".gguf")));
    const oursPath = path.join(dir, "ours.gguf"), theirsPath = path.join(dir, "theirs.gguf");
    quant(["calibrate", fixture("tiny-qwen35"), "--calibration", heldout, "--ctx", String(CTX), "--chunks", String(CHUNKS), "-o", oursPath, "-q", "-t", "2"]);
    mustRun(llamaImatrix, ["-m", f32, "-f", heldout, "-c", String(CTX), "--chunks", String(CHUNKS), "-o", theirsPath, "-t", "2",
      "--no-ppl", "--output-format", "gguf"]);
    const ours = await readImportance(oursPath), theirs = await readImportance(theirsPath);
    const cfg = JSON.parse(fs.readFileSync(path.join(fixture("tiny-qwen35"), "config.json"), "utf8"));
    const nk = cfg.linear_num_key_heads, nv = cfg.linear_num_value_heads, hd = cfg.linear_value_head_dim, ratio = nv / nk;
    // Tiled (GGUF) head r * nk + k holds checkpoint head k * ratio + r.
    const toCheckpointOrder = (v) => {
      const o = new Array(v.length);
      for (let k = 0; k < nk; k++)
        for (let r = 0; r < ratio; r++)
          for (let c = 0; c < hd; c++) o[(k * ratio + r) * hd + c] = v[(r * nk + k) * hd + c];
      return o;
    };
    const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
    const failures = [];
    let worstCorr = 1, worstGrouped = -1, n = 0;
    for (const [name, t] of theirs) {
      const o = ours.get(name);
      if (!o) { failures.push(`${name}: in llama-imatrix's file, not in ours`); continue; }
      if (o.length !== t.length) { failures.push(`${name}: ${o.length} columns, llama-imatrix ${t.length}`); continue; }
      const r = correlation(o, t), dm = Math.abs(mean(o) / mean(t) - 1);
      worstCorr = Math.min(worstCorr, r);
      n++;
      if (!(r > 0.999) || !(dm < 0.01)) failures.push(`${name}: correlation ${r.toFixed(5)}, means ${mean(o)} vs ${mean(t)}`);
      if (/ssm_out/.test(name)) worstGrouped = Math.max(worstGrouped, correlation(toCheckpointOrder(o), t));
    }
    for (const role of ["attn_qkv", "attn_gate", "ssm_alpha", "ssm_beta", "ssm_out"])
      for (let l = 0; l < cfg.num_hidden_layers; l++)
        if (cfg.layer_types[l] === "linear_attention" && !ours.has(`blk.${l}.${role}.weight`)) failures.push(`blk.${l}.${role}.weight: no importance in ours`);
    console.log(`# tiny-qwen35: ${n} tensors in both, worst correlation ${worstCorr.toFixed(6)}; ssm_out in checkpoint head order: ` +
      `best correlation ${worstGrouped.toFixed(3)} (control, must fail the 0.999 bound)`);
    assert.ok(n > 0, "no common tensors");
    assert.ok(worstGrouped >= -1 && worstGrouped < 0.999, `control: ssm_out importance in checkpoint head order would pass (${worstGrouped})`);
    assert.deepEqual(failures.slice(0, 10), []);
  }));
