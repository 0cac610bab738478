// Peer test: llama.cpp (node-llama-cpp's prebuilt CPU library) loads and runs the GGUF files our converter writes.
//  (a) every dense family (generated tiny checkpoints) x every GGUF preset we write: loads and generates.
//  (b) block layouts byte for byte: on the trained tiny-qwen3, llama.cpp's next-token distributions on our
//      quantized GGUF equal its distributions on the F32 GGUF that `dequantize` (our own block decoder) makes
//      from the same file, up to the noise of llama.cpp quantizing activations (Q8_0/Q8_K) for quantized
//      matmuls; a deliberately corrupted block must break that check.
//  (c) the MoE / gemma3 / gpt-oss fixtures: llama.cpp loads, generates and reaches the reference perplexity.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { quantBin, fixture, haveFixture, fixturesDir, skipUnless } from "./lib/paths.mjs";
import { quant, quantJson, tempDir, generateTiny, convertGguf } from "./lib/run.mjs";
import { llamaBatch, llamaUnavailable, readProbs, compareDistributions } from "./lib/llama.mjs";

const PRESETS = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k", "q3_k_m", "q4_k_m", "q5_k_m",
  "q6_k", "iq4_nl", "iq4_xs"];
const skipAll = skipUnless(quantBin) || llamaUnavailable();
const log = (...a) => console.log("#", ...a);

// ggml types present in a GGUF (through our inspect), e.g. {"q4_K": 7, "f32": 9}.
function typeCounts(file) {
  const info = quantJson(["inspect", file]);
  const counts = {};
  for (const t of info.tensors) counts[t.type] = (counts[t.type] ?? 0) + 1;
  return counts;
}

function precisionOf(file) {
  return path.basename(file, ".gguf").split("-").pop();
}

// ---------- (a) dense families x presets ----------
for (const family of ["llama", "mistral", "qwen2", "qwen3"]) {
  test(`${family}: llama.cpp loads and generates every GGUF preset we write`, { skip: skipAll }, () => {
    const dir = tempDir(`lp-llamacpp-${family}-`);
    const model = generateTiny(family, path.join(dir, "hf"));
    const files = convertGguf(model, path.join(dir, "out"), PRESETS.join(","));
    assert.equal(files.length, PRESETS.length);
    const replies = llamaBatch(files.map((f) => ({ modelPath: f, jobs: [{ op: "info" }, { op: "generate", prompt: "Hello world", maxTokens: 8 }] })));
    const failures = [];
    files.forEach((f, i) => {
      const r = replies[i];
      if (!r.ok) return failures.push(`${path.basename(f)}: ${r.error}`);
      const [info, gen] = r.results;
      if (info.vocab !== 4096) failures.push(`${path.basename(f)}: vocab ${info.vocab}`);
      if (gen.tokens.length === 0 || gen.tokens.some((t) => t < 0 || t >= info.vocab)) failures.push(`${path.basename(f)}: generated ${gen.tokens}`);
    });
    assert.deepEqual(failures, []);
    log(family, "types:", JSON.stringify(Object.fromEntries(files.map((f) => [precisionOf(f), typeCounts(f)]))));
  });
}

// ---------- (b) byte compatibility on the trained tiny-qwen3 ----------
// Tolerances, measured (see docs/FORMATS.md): with F32 weights llama.cpp multiplies in f32; with quantized weights
// it first rounds the activations to Q8_0 (legacy/IQ4_NL types) or Q8_K (K-quants, IQ4_XS), F16/BF16 weights round
// activations to F16/BF16. That rounding (relative error up to ~0.4% per activation) is the only difference left
// when the weights decode identically. A layout error changes a weight by its whole magnitude instead.
const TOL = { maxAbsDlogp: 0.05, meanKld: 2e-4, top1: 0.99 };

function heldoutTokens(f32File, n) {
  const text = fs.readFileSync(path.join(fixturesDir, "heldout.txt"), "utf8").slice(0, 8 * n);
  const [r] = llamaBatch([{ modelPath: f32File, jobs: [{ op: "tokenize", texts: [text] }] }]);
  assert.ok(r.ok, r.error);
  return r.results[0].ids[0].slice(0, n);
}

// Corrupts block 0 of row 0 of `tensor` in a copy of `file` the way a nibble-order bug would (swap the two
// 4-bit halves of every byte of the block, scales included); returns the copy's path.
function corruptBlock(file, tensor, out) {
  const info = quantJson(["inspect", file]);
  const t = info.tensors.find((x) => x.name === tensor);
  assert.ok(t, `${tensor} in ${file}`);
  const blockBytes = { q4_0: 18, q4_1: 20, q5_0: 22, q5_1: 24, q8_0: 34, q4_K: 144, q6_K: 210, iq4_nl: 18, iq4_xs: 136 }[t.type];
  assert.ok(blockBytes, `block size of ${t.type}`);
  const buf = fs.readFileSync(file);
  const start = info.data_offset + t.offset;
  for (let i = start; i < start + blockBytes; i++) buf[i] = ((buf[i] & 0x0f) << 4) | (buf[i] >> 4);
  fs.writeFileSync(out, buf);
  return out;
}

test("tiny-qwen3: llama.cpp decodes our quantized blocks exactly as our dequantizer does", { skip: skipAll || (!haveFixture("tiny-qwen3") && "fixture tiny-qwen3 missing") }, () => {
  const dir = tempDir("lp-llamacpp-bytes-");
  const files = convertGguf(fixture("tiny-qwen3"), path.join(dir, "out"), PRESETS.join(","));
  const f32 = files.find((f) => precisionOf(f) === "f32");
  const tokens = heldoutTokens(f32, 300);
  assert.equal(tokens.length, 300);
  const pairs = files.filter((f) => f !== f32).map((f) => {
    const deq = path.join(dir, `${path.basename(f, ".gguf")}-deq.gguf`);
    quant(["dequantize", f, deq]);
    return { name: precisionOf(f), file: f, deq };
  });
  // Negative control: a nibble-swapped block in the first FFN down projection of a Q4_0 file.
  const q40 = pairs.find((p) => p.name === "q4_0");
  pairs.push({ name: "q4_0-corrupt", file: corruptBlock(q40.file, "blk.0.ffn_down.weight", path.join(dir, "corrupt.gguf")), deq: q40.deq, corrupt: true });

  const probsJob = (f) => ({ modelPath: f, jobs: [{ op: "probs", tokens, out: `${f}.probs` }] });
  const models = [probsJob(f32)];
  for (const p of pairs) models.push(probsJob(p.file), ...(p.corrupt ? [] : [probsJob(p.deq)]));
  const replies = llamaBatch(models);
  replies.forEach((r, i) => assert.ok(r.ok, `${models[i].modelPath}: ${r.error}`));
  const probs = (f) => readProbs(`${f}.probs`, 4096);
  const ref = probs(f32);

  const failures = [];
  for (const p of pairs) {
    const vsDeq = compareDistributions(probs(p.deq), probs(p.file));
    const vsF32 = compareDistributions(ref, probs(p.file));
    log(`${p.name.padEnd(13)} vs own dequantized F32: max|dlogp| ${vsDeq.maxAbsDlogp.toExponential(2)} meanKLD ${vsDeq.meanKld.toExponential(2)} ` +
        `top1 ${(100 * vsDeq.top1).toFixed(1)}%  | vs F32 weights: meanKLD ${vsF32.meanKld.toExponential(2)} top1 ${(100 * vsF32.top1).toFixed(1)}%`);
    const pass = vsDeq.maxAbsDlogp < TOL.maxAbsDlogp && vsDeq.meanKld < TOL.meanKld && vsDeq.top1 >= TOL.top1;
    if (p.corrupt ? pass : !pass) failures.push(`${p.name}: ${JSON.stringify(vsDeq)}`);
  }
  assert.deepEqual(failures, [], "quantized vs own-dequantized distributions (corrupt copy must fail)");
});

// ---------- (c) MoE, gemma3, gpt-oss fixtures ----------
const FIXTURE_PRESETS = { "tiny-qwen3moe": ["f32", "q8_0", "q4_k_m"], "tiny-gemma3": ["f32", "q8_0", "q4_k_m"],
  "tiny-gptoss": ["f32", "q8_0", "mxfp4_moe"], "tiny-qwen3": ["f32", "q4_k_m"] };
for (const [name, presets] of Object.entries(FIXTURE_PRESETS)) {
  test(`${name}: llama.cpp loads our GGUFs, generates, and the F32 one reaches the reference perplexity`, { skip: skipAll || (!haveFixture(name) && `fixture ${name} missing`) }, () => {
    const dir = tempDir(`lp-llamacpp-${name}-`);
    const files = convertGguf(fixture(name), path.join(dir, "out"), presets.join(","));
    const reference = JSON.parse(fs.readFileSync(path.join(fixture(name), "reference.json"), "utf8")).heldout_ppl_ctx256_second_half;
    const f32 = files.find((f) => precisionOf(f) === "f32");
    const tokens = heldoutTokens(f32, 256 * 8);
    const jobs = [{ op: "generate", prompt: "And the LORD said unto Moses,", maxTokens: 16 }, { op: "perplexity", tokens, window: 256, chunks: 8 }];
    const replies = llamaBatch(files.map((f) => ({ modelPath: f, jobs })), { contextSize: 256 });
    const failures = [];
    files.forEach((f, i) => {
      const r = replies[i];
      if (!r.ok) return failures.push(`${path.basename(f)}: ${r.error}`);
      const [gen, ppl] = r.results;
      log(`${name} ${precisionOf(f)}: ppl(8 chunks) ${ppl.ppl.toFixed(3)} (reference, 64 chunks: ${reference.toFixed(3)}) text: ${JSON.stringify(gen.text)}`);
      if (gen.tokens.length === 0) failures.push(`${path.basename(f)}: generated nothing`);
      // 8 of the reference's 64 windows: the same text prefix, so within 15% unless the model is broken
      // (a wrong norm convention or expert layout gives perplexities in the thousands).
      if (!(Math.abs(ppl.ppl / reference - 1) < 0.15)) failures.push(`${path.basename(f)}: perplexity ${ppl.ppl} vs reference ${reference}`);
    });
    assert.deepEqual(failures, []);
  });
}
