// Peer test for `llama-pajamas-quant evaluate --method loglik` (issue #14): on our converter's F32 GGUF of the
// trained tiny-qwen3 fixture, 50 multiple-choice questions built from heldout.txt (the true end of a proverb
// against three other proverbs' ends). For every choice, our summed log-likelihood of the continuation is compared
// with the one computed from llama.cpp's next-token probabilities (node-llama-cpp), in two configurations (see CONFIGS
// below: every choice within 1e-3 with the same computation on both sides), and the chosen answers (acc and acc_norm)
// are identical. The continuation tokens are computed here independently, with llama.cpp's
// tokenizer and lm-evaluation-harness's rule: trailing whitespace of the context moves to the continuation,
// continuation = encode(context + choice)[len(encode(context)):].
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { gated, firstReason } from "./lib/require.mjs";
import { fixturesDir, quantBin, skipUnless } from "./lib/paths.mjs";
import { getPeerLlama } from "./lib/peer_llama.mjs";

const tinyDir = path.join(fixturesDir, "tiny-qwen3");
const heldoutPath = path.join(fixturesDir, "heldout.txt");
const missing = firstReason(skipUnless(path.join(tinyDir, "model.safetensors"), heldoutPath, quantBin));

const N_ITEMS = 50;
const CATEGORIES = ["knowledge", "math", "reasoning", "common_sense", "truthfulness", "tool_calling"];

// 50 questions: a proverb's first words; choices: its true end and the ends of three later lines. Every fifth
// question keeps a trailing space on the context (choices without a leading space), the whitespace case of
// lm-evaluation-harness's _encode_pair.
function buildSuite(file) {
  const lines = fs.readFileSync(heldoutPath, "utf8").split("\n").map((l) => l.trim()).filter((l) => l.split(" ").length >= 8);
  const items = [];
  for (let i = 0; i < N_ITEMS; i++) {
    const split = (l) => { const w = l.split(" "); const k = Math.ceil(w.length / 2); return [w.slice(0, k).join(" "), w.slice(k).join(" ")]; };
    const [head, tail] = split(lines[i * 3]);
    const others = [1, 2, 4].map((d) => split(lines[(i * 3 + d * 7) % lines.length])[1]);
    const answer = i % 4;
    const ends = [...others];
    ends.splice(answer, 0, tail);
    const spaceOnContext = i % 5 === 4;
    items.push({ id: `heldout-${i}`, category: CATEGORIES[i % CATEGORIES.length], type: "multiple_choice",
      question: spaceOnContext ? `${head} ` : head, choices: ends.map((e) => (spaceOnContext ? e : ` ${e}`)), answer });
  }
  fs.writeFileSync(file, items.map((it) => JSON.stringify(it)).join("\n") + "\n");
  return items;
}

// lm-evaluation-harness's _encode_pair with llama.cpp's tokenizer (no special tokens; BOS first when the GGUF asks).
function encodePair(model, addBos, context, continuation) {
  const n = context.length - context.trimEnd().length;
  if (n > 0) { continuation = context.slice(-n) + continuation; context = context.slice(0, -n); }
  const whole = Array.from(model.tokenize(context + continuation));
  const ctx = Array.from(model.tokenize(context));
  return { ctx: addBos ? [model.tokens.bos, ...ctx] : ctx, cont: whole.slice(ctx.length) };
}

async function peerLogliks(modelPath, items, contextOptions = {}) {
  const llama = await getPeerLlama({ gpu: false, build: "never", logLevel: "error" });
  const model = await llama.loadModel({ modelPath });
  const context = await model.createContext({ contextSize: 256, batchSize: 256, threads: 1, ...contextOptions });
  const addBos = model.fileInfo.metadata?.tokenizer?.ggml?.add_bos_token === true;
  const seq = context.getSequence();
  const options = { temperature: 1, topK: 0, topP: 1, minP: 0 };
  const out = [];
  for (const it of items) {
    const lls = [];
    for (const choice of it.choices) {
      const { ctx, cont } = encodePair(model, addBos, it.question, choice);
      const all = [...ctx, ...cont];
      await seq.clearHistory();
      // the distribution after position p predicts all[p + 1]: positions ctx.length - 1 .. all.length - 2
      const res = await seq.controlledEvaluate(all.map((t, p) =>
        (p >= ctx.length - 1 && p < all.length - 1 ? [t, { generateNext: { probabilities: true, options } }] : t)));
      let sum = 0;
      for (let p = ctx.length - 1; p < all.length - 1; p++) sum += Math.log(Math.max(res[p].next.probabilities.get(all[p + 1]) ?? 0, 1e-45));
      lls.push({ sum, bytes: Buffer.byteLength(choice, "utf8"), tokens: cont.length });
    }
    out.push(lls);
  }
  seq.dispose();
  await context.dispose();
  await model.dispose();
  return out;
}

const argmax = (xs) => xs.reduce((best, x, i) => (x > xs[best] ? i : best), 0);

let prepared;
function prepare() {
  if (prepared) return prepared;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lp-evaluate-oracle-"));
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  execFileSync(quantBin, ["convert", tinyDir, "--output", path.join(dir, "out"), "--formats", "gguf", "--precision", "f32",
    "--no-architecture-aware", "--quiet"], { stdio: "pipe" });
  const gguf = path.join(dir, "out", "gguf", fs.readdirSync(path.join(dir, "out", "gguf")).find((f) => f.endsWith(".gguf")));
  const suiteFile = path.join(dir, "suite.jsonl");
  prepared = { gguf, suiteFile, items: buildSuite(suiteFile) };
  return prepared;
}

// Two configurations of both engines on the same F32 GGUF:
// - the same computation: an F32 KV cache on both sides and llama.cpp's flash attention off (its CPU flash attention
//   accumulates V in F16). Every choice's summed log-likelihood must agree within 1e-3 (the bound; measured
//   here: mean 2.2e-5, largest 6.9e-5 over the 200 choices).
// - each engine's defaults (F16 KV cache; llama.cpp's flash attention "auto", on for CPU): ggml converts Q and the
//   attention weights to F16 and accumulates V in F16, ours keeps them in F32, which moves a low-probability token's
//   log-prob by up to ~7e-4; summed over a 5-17 token continuation: mean ~5e-4, largest 2.2e-3 (measured). Asserted:
//   mean < 1e-3, every choice < 5e-3 (a wrong continuation token or position moves a sum by > 0.1).
// Both: identical answers (acc and acc_norm) and the same continuation token counts. Our batched scoring (prefix
// once, one KV sequence per choice, all continuations in one pass) equals our single-sequence `llama-pajamas-run
// logits` log-probs to 1e-5 either way.
const CONFIGS = [
  { name: "F32 KV cache, no flash attention", ours: ["--cache-type", "f32"],
    peer: { flashAttention: false, experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32" }, mean: 1e-3, max: 1e-3 },
  { name: "defaults (F16 KV cache)", ours: [], peer: {}, mean: 1e-3, max: 5e-3 },
];
for (const cfg of CONFIGS) {
  test(`evaluate --method loglik: per-choice log-likelihoods equal llama.cpp's (50 questions, F32 GGUF, ${cfg.name})`, gated(missing, async () => {
    const { gguf, suiteFile, items } = prepare();
    const ours = JSON.parse(execFileSync(quantBin, ["evaluate", "--model", gguf, "--suite", suiteFile, "--method", "loglik",
      "--threads", "2", ...cfg.ours, "--no-write", "--json"], { encoding: "utf8", maxBuffer: 1 << 26 }));
    const ev = ours.evaluations[0];
    assert.equal(ev.failed, null);
    assert.equal(ev.items.length, N_ITEMS);
    const peer = await peerLogliks(gguf, items, cfg.peer);
    let maxDiff = 0, sumDiff = 0, within = 0, agreeAcc = 0, agreeNorm = 0, correct = 0;
    items.forEach((it, q) => {
      const mine = ev.items[q];
      assert.equal(mine.id, it.id);
      assert.deepEqual(mine.continuation_tokens, peer[q].map((p) => p.tokens), `${it.id}: continuation token counts`);
      mine.logliks.forEach((ll, c) => {
        const d = Math.abs(ll - peer[q][c].sum);
        maxDiff = Math.max(maxDiff, d);
        sumDiff += d;
        within += d < 1e-3;
      });
      const peerAcc = argmax(peer[q].map((p) => p.sum));
      const peerNorm = argmax(peer[q].map((p) => p.sum / p.bytes));
      agreeAcc += mine.predicted === peerAcc;
      agreeNorm += mine.predicted_norm === peerNorm;
      correct += peerAcc === it.answer;
    });
    const n = N_ITEMS * 4, meanDiff = sumDiff / n;
    console.log(`${cfg.name}: |loglik ours - llama.cpp| over ${n} choices: mean ${meanDiff.toExponential(3)}, max ${maxDiff.toExponential(3)}, ` +
      `${within}/${n} within 1e-3; answers agree ` +
      `acc ${agreeAcc}/${N_ITEMS}, acc_norm ${agreeNorm}/${N_ITEMS}; accuracy llama.cpp ${correct}/${N_ITEMS}, ours ${ev.overall.correct}/${N_ITEMS}`);
    assert.ok(meanDiff < cfg.mean, `mean log-likelihood difference ${meanDiff}`);
    assert.ok(maxDiff < cfg.max, `largest log-likelihood difference ${maxDiff}`);
    assert.equal(agreeAcc, N_ITEMS);
    assert.equal(agreeNorm, N_ITEMS);
    assert.equal(ev.overall.correct, correct);
  }));
}
