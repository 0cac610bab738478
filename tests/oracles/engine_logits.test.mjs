// Peer test: our engine (llama-pajamas-run logits / generate / perplexity) against llama.cpp
// (node-llama-cpp's prebuilt CPU library) on the same GGUF built from the trained tiny-qwen3 fixture.
// Checks: top-1 identical at every position, log-prob differences within tolerance, greedy
// continuations identical, perplexity within 0.5% of llama.cpp's and of reference.json.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { skipUnless } from "./lib/paths.mjs";
import { gated } from "./lib/require.mjs";
import { getPeerLlama, peerCpuVariant } from "./lib/peer_llama.mjs";

const fixtures = process.env.LP_SHARED_FIXTURES ?? "/work/shared/fixtures";
const buildDir = process.env.LP_BUILD_DIR ?? "";
const runBin = path.join(buildDir, "apps", "llama-pajamas-run");
const tinyDir = path.join(fixtures, "tiny-qwen3");
const haveInputs = fs.existsSync(path.join(tinyDir, "model.safetensors")) && fs.existsSync(runBin);
const inputsMissing = skipUnless(path.join(tinyDir, "model.safetensors"), runBin);

// ---------- a minimal GGUF writer (F32 / Q8_0) with the HF->GGUF qwen3 names and tokenizer ----------

function f32ToF16(val) {
  const f = new Float32Array([val]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const abs = x & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00;
  if (abs >= 0x477ff000) return sign | 0x7c00;
  if (abs < 0x38800000) {
    if (abs < 0x33000000) return sign;
    const e = abs >>> 23, m = (abs & 0x7fffff) | 0x800000, shift = 126 - e;
    let r = m >>> shift;
    const rem = m & ((1 << shift) - 1), half = 1 << (shift - 1);
    if (rem > half || (rem === half && (r & 1))) r++;
    return sign | r;
  }
  let r = abs - (112 << 23);
  r += 0xfff + ((r >>> 13) & 1);
  return sign | (r >>> 13);
}

function quantQ8_0(values) {
  const nb = values.length / 32, out = Buffer.alloc(nb * 34);
  for (let i = 0; i < nb; i++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(values[i * 32 + j]));
    const d = Math.fround(amax / 127), id = d ? Math.fround(1 / d) : 0;
    out.writeUInt16LE(f32ToF16(d), i * 34);
    for (let j = 0; j < 32; j++) {
      // C's nearbyint (ties to even) on the f32 product
      const v = Math.fround(values[i * 32 + j] * id);
      let q = Math.round(v);
      if (Math.abs(v - Math.trunc(v)) === 0.5) q = 2 * Math.round(v / 2);
      out.writeInt8(q, i * 34 + 2 + j);
    }
  }
  return out;
}

class GgufBuilder {
  constructor() { this.kv = []; this.tensors = []; }
  str(s) { const b = Buffer.from(s, "utf8"); const h = Buffer.alloc(8); h.writeBigUInt64LE(BigInt(b.length)); return Buffer.concat([h, b]); }
  u32(v) { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; }
  add(key, type, payload) { this.kv.push(Buffer.concat([this.str(key), this.u32(type), payload])); }
  addU32(k, v) { this.add(k, 4, this.u32(v)); }
  addF32(k, v) { const b = Buffer.alloc(4); b.writeFloatLE(v); this.add(k, 6, b); }
  addBool(k, v) { this.add(k, 7, Buffer.from([v ? 1 : 0])); }
  addStr(k, v) { this.add(k, 8, this.str(v)); }
  addArr(k, elemType, items) {
    const n = Buffer.alloc(8); n.writeBigUInt64LE(BigInt(items.length));
    const body = items.map((x) => (elemType === 8 ? this.str(x) : (() => { const b = Buffer.alloc(4); b.writeInt32LE(x); return b; })()));
    this.add(k, 9, Buffer.concat([this.u32(elemType), n, ...body]));
  }
  addTensor(name, type, ne, data) { this.tensors.push({ name, type, ne, data }); }
  write(file) {
    const head = Buffer.alloc(24);
    head.write("GGUF", 0, "ascii"); head.writeUInt32LE(3, 4);
    head.writeBigUInt64LE(BigInt(this.tensors.length), 8); head.writeBigUInt64LE(BigInt(this.kv.length), 16);
    const infos = []; const datas = []; let off = 0;
    for (const t of this.tensors) {
      const pad = (32 - (off % 32)) % 32;
      if (pad) { datas.push(Buffer.alloc(pad)); off += pad; }
      const dims = Buffer.alloc(8 * t.ne.length);
      t.ne.forEach((e, i) => dims.writeBigUInt64LE(BigInt(e), 8 * i));
      const o = Buffer.alloc(8); o.writeBigUInt64LE(BigInt(off));
      infos.push(Buffer.concat([this.str(t.name), this.u32(t.ne.length), dims, this.u32(t.type), o]));
      datas.push(t.data); off += t.data.length;
    }
    let meta = Buffer.concat([head, ...this.kv, ...infos]);
    const pad = (32 - (meta.length % 32)) % 32;
    fs.writeFileSync(file, Buffer.concat([meta, Buffer.alloc(pad), ...datas]));
  }
}

function ggufName(hf) {
  const sub = { "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
    "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm", input_layernorm: "attn_norm", post_attention_layernorm: "ffn_norm",
    "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down" };
  if (hf === "model.embed_tokens.weight") return "token_embd.weight";
  if (hf === "model.norm.weight") return "output_norm.weight";
  if (hf === "lm_head.weight") return "output.weight";
  const m = hf.match(/^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/);
  return `blk.${m[1]}.${sub[m[2]]}.${m[3]}`;
}

export function writeTinyQwen3Gguf(file, matrixType /* "f32" | "q8_0" */) {
  const cfg = JSON.parse(fs.readFileSync(path.join(tinyDir, "config.json"), "utf8"));
  const tok = JSON.parse(fs.readFileSync(path.join(tinyDir, "tokenizer.json"), "utf8"));
  const tcfg = JSON.parse(fs.readFileSync(path.join(tinyDir, "tokenizer_config.json"), "utf8"));
  const st = fs.readFileSync(path.join(tinyDir, "model.safetensors"));
  const hlen = Number(st.readBigUInt64LE(0));
  const header = JSON.parse(st.subarray(8, 8 + hlen).toString("utf8"));
  const g = new GgufBuilder();
  g.addStr("general.architecture", "qwen3");
  g.addStr("general.name", "tiny-qwen3");
  g.addU32("general.alignment", 32);
  g.addU32("qwen3.context_length", cfg.max_position_embeddings);
  g.addU32("qwen3.embedding_length", cfg.hidden_size);
  g.addU32("qwen3.block_count", cfg.num_hidden_layers);
  g.addU32("qwen3.feed_forward_length", cfg.intermediate_size);
  g.addU32("qwen3.attention.head_count", cfg.num_attention_heads);
  g.addU32("qwen3.attention.head_count_kv", cfg.num_key_value_heads);
  g.addU32("qwen3.attention.key_length", cfg.head_dim);
  g.addU32("qwen3.attention.value_length", cfg.head_dim);
  g.addF32("qwen3.rope.freq_base", cfg.rope_theta);
  g.addF32("qwen3.attention.layer_norm_rms_epsilon", cfg.rms_norm_eps);
  const tokens = new Array(cfg.vocab_size);
  const types = new Array(cfg.vocab_size).fill(1);
  for (const [t, id] of Object.entries(tok.model.vocab)) tokens[id] = t;
  for (const a of tok.added_tokens) { tokens[a.id] = a.content; types[a.id] = a.special ? 3 : 4; }
  const merges = tok.model.merges.map((m) => (Array.isArray(m) ? m.join(" ") : m));
  g.addStr("tokenizer.ggml.model", "gpt2");
  g.addStr("tokenizer.ggml.pre", "qwen2");
  g.addArr("tokenizer.ggml.tokens", 8, tokens);
  g.addArr("tokenizer.ggml.token_type", 5, types);
  g.addArr("tokenizer.ggml.merges", 8, merges);
  g.addU32("tokenizer.ggml.eos_token_id", cfg.eos_token_id);
  g.addU32("tokenizer.ggml.padding_token_id", 4093);
  g.addU32("tokenizer.ggml.bos_token_id", cfg.bos_token_id);
  g.addBool("tokenizer.ggml.add_bos_token", false);
  g.addStr("tokenizer.chat_template", tcfg.chat_template);
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const [b, e] = info.data_offsets;
    const raw = st.subarray(8 + hlen + b, 8 + hlen + e);
    const n = raw.length / 2, f = new Float32Array(n), u = new Uint32Array(f.buffer);
    for (let i = 0; i < n; i++) u[i] = raw.readUInt16LE(2 * i) << 16;
    const ne = [...info.shape].reverse();
    if (info.shape.length === 1 || matrixType === "f32") g.addTensor(ggufName(name), 0, ne, Buffer.from(f.buffer));
    else g.addTensor(ggufName(name), 8, ne, quantQ8_0(f));
  }
  g.write(file);
}

// ---------- helpers ----------

function ours(args) {
  return JSON.parse(execFileSync(runBin, args, { encoding: "utf8", maxBuffer: 1 << 28 }));
}

async function loadPeer(modelPath, contextSize) {
  const llama = await getPeerLlama({ gpu: false, build: "never", logLevel: "error" });
  console.log(`peer CPU backend: ${peerCpuVariant}`);
  const model = await llama.loadModel({ modelPath });
  const context = await model.createContext({ contextSize, batchSize: contextSize, threads: 2 });
  return { llama, model, context };
}

// Full next-token distribution from llama.cpp after each of `tokens` (temperature 1, no truncation).
async function peerProbabilities(context, tokens) {
  const seq = context.getSequence();
  const input = tokens.map((t) => [t, { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } }]);
  const out = await seq.controlledEvaluate(input);
  seq.dispose();
  return out.map((o) => o.next.probabilities);
}

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "lp-engine-oracle-"));
const ggufs = {};
function gguf(type) {
  if (!ggufs[type]) {
    ggufs[type] = path.join(workDir, `tiny-qwen3-${type}.gguf`);
    writeTinyQwen3Gguf(ggufs[type], type);
  }
  return ggufs[type];
}

const heldout = haveInputs ? fs.readFileSync(path.join(fixtures, "heldout.txt"), "utf8") : "";

for (const type of ["f32", "q8_0"]) {
  test(`logits match llama.cpp (${type})`, gated(inputsMissing, async () => {
    const file = gguf(type);
    const { model, context } = await loadPeer(file, 512);
    const tokens = model.tokenize(heldout.slice(0, 4000)).slice(0, 300);
    assert.equal(tokens.length, 300);
    const peer = await peerProbabilities(context, tokens);
    const mine = ours(["logits", "--model", file, "--tokens", tokens.join(","), "--top-k", "20", "--json"]);
    assert.equal(mine.positions.length, tokens.length);
    let maxDiff = 0, sumDiff = 0, nDiff = 0, top1Same = 0;
    for (let i = 0; i < tokens.length; i++) {
      const p = peer[i];
      const [peerTop] = p.entries().next().value;
      const m = mine.positions[i];
      if (m.top[0].id === peerTop) top1Same++;
      // compare log-probs of our top-20 tokens where llama.cpp reports them
      for (const { id, logprob } of m.top.slice(0, 5)) {
        const q = p.get(id);
        if (q === undefined || q < 1e-6) continue;
        const dd = Math.abs(Math.log(q) - logprob);
        maxDiff = Math.max(maxDiff, dd);
        sumDiff += dd;
        nDiff++;
      }
    }
    const meanDiff = sumDiff / nDiff;
    console.log(`${type}: top-1 agreement ${top1Same}/${tokens.length}, |dlogp| max ${maxDiff.toExponential(3)} mean ${meanDiff.toExponential(3)}`);
    // Ties between near-equal logits can flip the order by float summation order; allow none here since
    // the trained model's top-1 margins are large, but report the exact count on failure.
    assert.equal(top1Same, tokens.length);
    // F32: only float summation order differs (measured max 5e-5). Q8_0: activations are quantized to
    // Q8_0 by both engines, but one-ulp differences in x*127/amax flip single int8 roundings, which moves
    // log-probs by up to ~1e-2 (measured max 1.0e-2); a layout or math bug moves them by >> 0.1.
    const [maxTol, meanTol] = type === "f32" ? [1e-3, 1e-4] : [3e-2, 3e-3];
    assert.ok(maxDiff < maxTol, `max log-prob difference ${maxDiff}`);
    assert.ok(meanDiff < meanTol, `mean log-prob difference ${meanDiff}`);
    await context.dispose();
    await model.dispose();
  }));
}

// K-quants through our own converter (pipeline binary), when it is built: the engine's Q4_K/Q6_K path
// against llama.cpp on the same file.
const quantBin = path.join(buildDir, "apps", "llama-pajamas-quant");
test("logits match llama.cpp (Q4_K_M from our converter)", gated(skipUnless(path.join(tinyDir, "model.safetensors"), runBin, quantBin), async () => {
  const out = path.join(workDir, "q4km");
  execFileSync(quantBin, ["convert", tinyDir, "--output", out, "--formats", "gguf", "--precision", "q4_k_m", "--quiet"]);
  const file = fs.readdirSync(path.join(out, "gguf")).filter((f) => f.endsWith(".gguf")).map((f) => path.join(out, "gguf", f))[0];
  const { model, context } = await loadPeer(file, 512);
  const tokens = model.tokenize(heldout.slice(0, 4000)).slice(0, 200);
  const peer = await peerProbabilities(context, tokens);
  const mine = ours(["logits", "--model", file, "--tokens", tokens.join(","), "--top-k", "5", "--json"]);
  let maxDiff = 0, sumDiff = 0, nDiff = 0, top1Same = 0;
  for (let i = 0; i < tokens.length; i++) {
    const p = peer[i];
    if (mine.positions[i].top[0].id === p.entries().next().value[0]) top1Same++;
    for (const { id, logprob } of mine.positions[i].top) {
      const q = p.get(id);
      if (q === undefined || q < 1e-6) continue;
      const dd = Math.abs(Math.log(q) - logprob);
      maxDiff = Math.max(maxDiff, dd); sumDiff += dd; nDiff++;
    }
  }
  console.log(`q4_k_m: top-1 agreement ${top1Same}/${tokens.length}, |dlogp| max ${maxDiff.toExponential(3)} mean ${(sumDiff / nDiff).toExponential(3)}`);
  // Same int8 activation-rounding argument as Q8_0; allow one near-tie flip of the top-1.
  assert.ok(top1Same >= tokens.length - 1);
  assert.ok(maxDiff < 5e-2 && sumDiff / nDiff < 5e-3);
  await context.dispose();
  await model.dispose();
}));

test("greedy 64-token continuation matches llama.cpp", gated(inputsMissing, async () => {
  const file = gguf("q8_0");
  const { model, context } = await loadPeer(file, 512);
  for (const prompt of ["And the LORD said unto Moses,", "In the beginning", "Blessed is the man that"]) {
    const ptoks = model.tokenize(prompt);
    const seq = context.getSequence();
    const peerToks = [];
    for await (const t of seq.evaluate(ptoks, { temperature: 0 })) {
      if (model.isEogToken?.(t) || t === 4095) break;
      peerToks.push(t);
      if (peerToks.length === 64) break;
    }
    seq.dispose();
    const mine = ours(["generate", "--model", file, "--prompt-tokens", ptoks.join(","), "-n", "64", "--temperature", "0", "--json"]);
    assert.deepEqual(mine.tokens.slice(0, peerToks.length), peerToks, `prompt: ${prompt}`);
  }
  await context.dispose();
  await model.dispose();
}));

test("perplexity matches llama.cpp protocol and reference.json", gated(inputsMissing, async () => {
  const file = gguf("f32");
  const ref = JSON.parse(fs.readFileSync(path.join(tinyDir, "reference.json"), "utf8"));
  const mine = ours(["perplexity", "--model", file, "--file", path.join(fixtures, "heldout.txt"), "--ctx", "256", "--chunks", "64", "--json"]);
  console.log(`perplexity ours ${mine.perplexity} reference ${ref.heldout_ppl_ctx256_second_half}`);
  assert.equal(mine.scored_tokens, ref.scored_tokens);
  assert.ok(Math.abs(mine.perplexity / ref.heldout_ppl_ctx256_second_half - 1) < 0.005);
}));

// Gemma 3 (5:1 sliding/global attention, separate rope bases, GeGLU, four norms per block, sqrt(d)
// embedding scale) through our converter, when built: perplexity against the fixture's reference.json
// (llama.cpp on an F32 GGUF gives 66.1348).
test("gemma3 perplexity matches reference.json (F32 from our converter)", gated(skipUnless(quantBin, runBin, path.join(fixtures, "tiny-gemma3", "model.safetensors")), () => {
  const out = path.join(workDir, "gemma3");
  execFileSync(quantBin, ["convert", path.join(fixtures, "tiny-gemma3"), "--output", out, "--formats", "gguf", "--precision", "f32", "--quiet"]);
  const ref = JSON.parse(fs.readFileSync(path.join(fixtures, "tiny-gemma3", "reference.json"), "utf8"));
  const mine = ours(["perplexity", "--model", out, "--file", path.join(fixtures, "heldout.txt"), "--ctx", "256", "--chunks", "64", "--json"]);
  console.log(`gemma3 perplexity ours ${mine.perplexity} reference ${ref.heldout_ppl_ctx256_second_half}`);
  assert.equal(mine.scored_tokens, ref.scored_tokens);
  assert.ok(Math.abs(mine.perplexity / ref.heldout_ppl_ctx256_second_half - 1) < 1e-3);
}));
