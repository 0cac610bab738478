// Peer test (issue #20): a generated Gemma 4 checkpoint (`make-test-model --family gemma4`: random weights with the
// E2B shapes' quirks: per-layer embeddings of 128 values per layer, layer_types S S F S S F, layers 3..5 sharing the
// KV of layers 1 (sliding) and 2 (full) and carrying no k/v projections, full layers with twice the head size and
// proportional rope on a quarter of it, a double-wide MLP on the shared layers, layer scalars, one KV head, final
// logit softcapping), converted by us at F32, Q8_0, Q4_K_M and `--precision auto`:
// - the GGUF layout llama.cpp's converter (Gemma4Model) writes: keys, per-layer arrays, rope_freqs, PLE tensors,
// - llama.cpp (node-llama-cpp) loads every file and generates,
// - our engine vs llama.cpp on the same file: F32 top-1 identical at every position, |dlogp| within the tolerance
//   justified below, greedy continuation identical; perplexity within 0.5% at F32 and 5% at the quantized types
//   (why, and the numbers: docs/ARCHITECTURES.md); the HF folder itself gives the F32 GGUF's perplexity.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { quantBin, runBin, fixturesDir, skipUnless } from "./lib/paths.mjs";
import { tempDir, convertGguf, generateTiny, run } from "./lib/run.mjs";
import { llamaBatch, llamaUnavailable, readProbs } from "./lib/llama.mjs";
import { gated, firstReason } from "./lib/require.mjs";
import { engineVsPeer } from "./lib/engine_vs_peer.mjs";
import { readGgufFileInfo } from "node-llama-cpp";

const heldoutFile = path.join(fixturesDir, "heldout.txt");
const N_PROBE = 128, WINDOW = 128, CHUNKS = 4;
const env = { env: { OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? "passive" } };
const PROMPT = "And the LORD said unto Moses,";
const missing = () => firstReason(skipUnless(quantBin, runBin, heldoutFile), llamaUnavailable);

let state = null;
function prepare() {
  if (state) return state;
  const dir = tempDir("lp-gemma4-gen-");
  const src = generateTiny("gemma4", path.join(dir, "src"), ["--seed", "7"]);
  const files = {};
  for (const [type, precision, extra] of [["f32", "f32", []], ["q8_0", "q8_0", []], ["q4_k_m", "q4_k_m", []],
    ["auto", "auto", ["--target-bpw", "5"]]]) {
    const [f] = convertGguf(src, path.join(dir, type), precision, extra);
    assert.ok(f && fs.existsSync(f), `gemma4 ${type}: no GGUF written`);
    files[type] = f;
  }
  const text = fs.readFileSync(heldoutFile, "utf8").slice(0, 6000);
  const [tok] = llamaBatch([{ modelPath: files.f32, jobs: [{ op: "tokenize", texts: [text, PROMPT] }] }]);
  assert.ok(tok.ok, tok.error);
  const tokens = tok.results[0].ids[0].slice(0, WINDOW * CHUNKS);
  const promptTokens = tok.results[0].ids[1];
  assert.equal(tokens.length, WINDOW * CHUNKS, "heldout.txt too short");
  const probsFile = path.join(dir, "probs.f32");
  const peer = llamaBatch(Object.entries(files).map(([type, f]) => ({ modelPath: f, jobs: [
    { op: "perplexity", tokens, window: WINDOW, chunks: CHUNKS },
    { op: "generate", prompt: PROMPT, maxTokens: 16 },
    ...(type === "f32" ? [{ op: "probs", tokens: tokens.slice(0, N_PROBE), out: probsFile }] : [])] })), { contextSize: 512 });
  const tokensFile = path.join(dir, "tokens.txt");
  fs.writeFileSync(tokensFile, tokens.join(" "));
  state = { dir, src, files, tokens, promptTokens, tokensFile, probsFile,
    peer: Object.fromEntries(Object.keys(files).map((t, i) => [t, peer[i]])) };
  return state;
}

async function shapes(file) {
  const info = await readGgufFileInfo(file);
  return { info, shapes: Object.fromEntries(info.fullTensorInfo.map((t) => [t.name, t.dimensions.map(Number)])),
    types: Object.fromEntries(info.fullTensorInfo.map((t) => [t.name, t.ggmlType])) };
}

test("generated gemma4: GGUF layout as llama.cpp's converter writes it", gated(missing, async () => {
  const s = prepare();
  const { info, shapes: sh, types } = await shapes(s.files.f32);
  assert.equal(info.metadata.general.architecture, "gemma4");
  const m = info.metadata.gemma4;
  assert.deepEqual([m.block_count, m.embedding_length, m.embedding_length_per_layer_input, m.attention.shared_kv_layers,
    m.attention.key_length, m.attention.value_length, m.attention.key_length_swa, m.attention.value_length_swa,
    m.rope.dimension_count, m.rope.dimension_count_swa, m.attention.sliding_window, m.attention.head_count_kv],
  [6, 256, 128, 3, 128, 128, 64, 64, 128, 64, 32, 1]);
  assert.deepEqual(Array.from(m.attention.sliding_window_pattern), [true, true, false, true, true, false]);
  assert.deepEqual(Array.from(m.feed_forward_length).map(Number), [512, 512, 512, 1024, 1024, 1024]);
  assert.equal(m.rope.freq_base, 1e6);
  assert.equal(m.rope.freq_base_swa, 1e4);
  assert.equal(m.final_logit_softcapping, 30);
  assert.deepEqual(sh["rope_freqs.weight"], [64]);
  assert.deepEqual(sh["per_layer_token_embd.weight"], [768, 4096]);
  assert.deepEqual(sh["per_layer_model_proj.weight"], [256, 768]);
  assert.deepEqual(sh["per_layer_proj_norm.weight"], [128]);
  assert.deepEqual(sh["blk.0.inp_gate.weight"], [256, 128]);
  assert.deepEqual(sh["blk.0.proj.weight"], [128, 256]);
  assert.deepEqual(sh["blk.0.post_norm.weight"], [256]);
  assert.deepEqual(sh["blk.0.layer_output_scale.weight"], [1]);
  assert.deepEqual(sh["blk.0.attn_q.weight"], [256, 256]);
  assert.deepEqual(sh["blk.2.attn_q.weight"], [256, 512]);  // full layer: global_head_dim 128
  assert.deepEqual(sh["blk.2.attn_k.weight"], [256, 128]);
  assert.deepEqual(sh["blk.2.attn_output.weight"], [512, 256]);
  assert.ok(!("blk.3.attn_k.weight" in sh) && !("blk.5.attn_v.weight" in sh) && !("blk.4.attn_k_norm.weight" in sh),
    "KV-shared layers carry no k/v");
  assert.deepEqual(sh["blk.3.ffn_down.weight"], [1024, 256]);  // double-wide MLP
  assert.ok(!("output.weight" in sh), "tied: no output.weight");
  assert.equal(types["blk.0.layer_output_scale.weight"], 0);
  // llama-quantize's rules: per_layer_model_proj never quantized; per_layer_token_embd is a token embedding (tied:
  // the output type, Q6_K in Q4_K_M).
  const q = await shapes(s.files.q4_k_m);
  assert.equal(q.types["per_layer_model_proj.weight"], 1);  // F16
  assert.equal(q.types["per_layer_token_embd.weight"], 14);  // Q6_K
  assert.equal(q.types["rope_freqs.weight"], 0);
}));

test("generated gemma4: llama.cpp loads and generates with our F32, Q8_0, Q4_K_M and auto GGUFs", gated(missing, () => {
  const s = prepare();
  for (const [type, r] of Object.entries(s.peer)) {
    assert.ok(r.ok, `gemma4 ${type}: llama.cpp failed: ${r.error}`);
    assert.ok(r.results[1].tokens.length > 0, `gemma4 ${type}: generated nothing`);
    assert.ok(Number.isFinite(r.results[0].ppl), `gemma4 ${type}: perplexity ${r.results[0].ppl}`);
  }
  console.log("generated gemma4, llama.cpp perplexity (4 x 128 tokens): " +
    Object.entries(s.peer).map(([t, r]) => `${t} ${r.results[0].ppl.toFixed(3)}`).join(", "));
}));

test("generated gemma4: our engine equals llama.cpp on the same GGUF (top-1, greedy, perplexity)", gated(missing, () => {
  const s = prepare();
  const { a, gen, ourGen, ppl, folder } = engineVsPeer("gemma4", s, { nProbe: N_PROBE, window: WINDOW, chunks: CHUNKS, env });
  // The HF folder (engine/folder_loader.cpp: the same recipes, rope_freqs generated) = the F32 GGUF.
  assert.ok(Math.abs(folder.perplexity / ppl.f32.ours - 1) < 1e-6, `HF folder ${folder.perplexity} vs F32 GGUF ${ppl.f32.ours}`);
  assert.equal(a.top1, a.positions, `top-1 differs: ${JSON.stringify(a.flips)}`);
  // Gemma 4 attends with scale 1 over RMS-normed q and k: scores of order sqrt(head_dim), a nearly one-hot softmax
  // that amplifies float noise (llama.cpp's F16 rounding of q and of the softmax weights against its F16 KV cache,
  // which our engine does in F32) far more than the 1/sqrt(d) families, and more with every key: hence a looser
  // bound than qwen35's 2e-3 (measured 2.7e-2 max, 2.2e-3 mean on 128 positions; without the ggml GELU table
  // emulation it was 0.44 with 10 top-1 flips, so the bound still catches a real mismatch).
  assert.ok(a.maxDiff < 5e-2, `max |dlogp| ${a.maxDiff}`);
  assert.ok(a.meanDiff < 5e-3, `mean |dlogp| ${a.meanDiff}`);
  // Greedy: llama.cpp's continuation replayed through both engines (teacher forcing), so one near-tie does not
  // decide the rest. Random weights give near-uniform predictions and many near-ties: every step where llama.cpp's
  // own top-1 margin is at least the |dlogp| bound must pick llama.cpp's token in our engine too.
  const seq = [...s.promptTokens, ...gen.tokens];
  const genProbsFile = path.join(s.dir, "gen_probs.f32");
  const [gp] = llamaBatch([{ modelPath: s.files.f32, jobs: [{ op: "probs", tokens: seq, out: genProbsFile }] }], { contextSize: 512 });
  assert.ok(gp.ok, gp.error);
  const seqProbs = readProbs(genProbsFile, gp.results[0].vocab);
  const ourSeq = JSON.parse(run(["logits", "--model", s.files.f32, "--tokens", seq.join(","), "--top-k", "1", "--json"], env));
  let nearTies = 0, decided = 0;
  for (let i = s.promptTokens.length - 1; i < seq.length - 1; i++) {
    const p = Array.from(seqProbs[i]);
    const want = seq[i + 1];
    const second = Math.max(...p.filter((_, t) => t !== want));
    const margin = Math.log(p[want]) - Math.log(second);
    assert.ok(margin >= 0, `llama.cpp's greedy token at step ${i} is not its own top-1`);
    if (margin < 5e-2) { nearTies++; continue; }
    decided++;
    assert.equal(ourSeq.positions[i].top[0].id, want, `greedy step ${i}: llama.cpp margin ${margin}`);
  }
  const sameRun = ourGen.tokens.findIndex((t, i) => t !== gen.tokens[i]);
  console.log(`greedy: ${decided} decided steps identical, ${nearTies} near-ties (margin < 0.05) skipped; free-running ` +
    `continuations agree for ${sameRun < 0 ? gen.tokens.length : sameRun} of ${gen.tokens.length} tokens`);
  assert.ok(Math.abs(ppl.f32.rel) < 0.005, `f32: perplexity ${ppl.f32.ours} vs ${ppl.f32.llama}`);
  // Quantized files: both engines quantize activations (Q8_0/Q8_K) and one-ulp roundings differ; the scale-1
  // attention amplifies them (measured 1.7% to 2.5% here, against < 0.15% for qwen35): the 0.5% is met at F32
  // only (docs/ARCHITECTURES.md). 5% still fails on a wrong layout or type (those give tens of percent or more).
  for (const [type, p] of Object.entries(ppl)) assert.ok(Math.abs(p.rel) < 0.05, `${type}: perplexity ${p.ours} vs ${p.llama}`);
}));
