// MLX output checked by an independent reader (this file; no code of ours reads the files) that follows mlx-lm's
// loading path and MLX's affine dequantization from their sources (mlx-lm is not installable on Linux):
//  - mlx-lm utils.load_model: Model(ModelArgs.from_dict(config)); model.sanitize(weights); when config has
//    "quantization", nn.quantize(model, group_size, bits, class_predicate) with
//      class_predicate(p, m) = config["quantization"][p] if p in it (a dict {group_size, bits} or false), else
//                              hasattr(m, "to_quantized") and f"{p}.scales" in weights;
//    then model.load_weights(weights, strict=True): the parameter names and shapes must be exactly the model's.
//  - The parameters of models/qwen3.py and models/qwen3_moe.py (written out below from those sources, not from our
//    name tables): nn.Embedding / nn.Linear(bias=False) / nn.RMSNorm; SwitchGLU experts as
//    mlp.switch_mlp.{gate,up,down}_proj [n_experts, out, in] with the router mlp.gate; no lm_head when
//    tie_word_embeddings (sanitize pops it).
//  - QuantizedLinear / QuantizedEmbedding / QuantizedSwitchLinear (mode "affine"): weight uint32
//    [..., out, in * bits / 32], scales and biases [..., out, in / group_size] in a float dtype; mx.dequantize:
//    w = scales * q + biases per group of group_size along the last axis, where q are the `bits`-bit fields of the
//    row read as one little-endian LSB-first bit stream (2/4/8 bits: 32/bits per uint32 word, element 0 in the low
//    bits; 3/5/6 bits: 8/8/4 elements per 3/5/3 bytes, MLX's get_pack_factor / get_bytes_per_pack).
// Checks on folders our converter writes from the trained fixtures: the key set equals what mlx-lm's model
// would declare (strict load), dtypes and shapes as above, config.json has the ModelArgs fields mlx-lm requires,
// and every dequantized matrix is within its quantization step of the Hugging Face checkpoint's BF16 weights.
// The bound follows MLX's affine rule (mlx/ops.cpp affine_quantize): the extreme of larger magnitude ("edge") is put
// exactly on the grid (scale' = edge / round(edge / scale), bias = edge), so zero is representable and the other
// extreme can be clipped by up to n_bins * (scale - scale') <= scale'; per element
// |w_deq - w| <= |scale'| * (1 + 1/n_bins) + the BF16 rounding of scale and bias (MLX computes in the weights' dtype).
// A wrong bit order, group size, column order or stacking is off by the whole range of a group.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { quantBin, fixture, fixtureMissing, skipUnless } from "./lib/paths.mjs";
import { quant, tempDir } from "./lib/run.mjs";
import { gated, firstReason } from "./lib/require.mjs";

// ---------- safetensors, read here ----------
function readSafetensors(file) {
  const buf = fs.readFileSync(file);
  const hlen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + hlen).toString("utf8"));
  const tensors = new Map();
  for (const [name, t] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    tensors.set(name, { dtype: t.dtype, shape: t.shape, bytes: buf.subarray(8 + hlen + t.data_offsets[0], 8 + hlen + t.data_offsets[1]) });
  }
  return tensors;
}
function readShards(dir) {
  const all = new Map();
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith(".safetensors")).sort())
    for (const [k, v] of readSafetensors(path.join(dir, f))) all.set(k, v);
  return all;
}
function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
const f32view = new Float32Array(1), u32view = new Uint32Array(f32view.buffer);
function toFloats(t) {
  const n = t.shape.reduce((a, b) => a * b, 1), out = new Float64Array(n), b = t.bytes;
  for (let i = 0; i < n; i++) {
    if (t.dtype === "F32") out[i] = b.readFloatLE(4 * i);
    else if (t.dtype === "BF16") { u32view[0] = b.readUInt16LE(2 * i) << 16; out[i] = f32view[0]; }
    else if (t.dtype === "F16") out[i] = halfToFloat(b.readUInt16LE(2 * i));
    else throw new Error(`float dtype expected, got ${t.dtype}`);
  }
  return out;
}

// ---------- mx.dequantize (affine) ----------
// Element j of a row of `cols` values: bits [j*bits, (j+1)*bits) of the row's bytes, little endian, LSB first.
function dequantize(w, scales, biases, bits, group) {
  const rowsShape = w.shape.slice(0, -1), rows = rowsShape.reduce((a, b) => a * b, 1);
  const cols = (w.shape.at(-1) * 32) / bits, rowBytes = w.shape.at(-1) * 4;
  const s = toFloats(scales), bz = toFloats(biases), out = new Float64Array(rows * cols), mask = (1 << bits) - 1;
  const q = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * rowBytes;
    for (let j = 0; j < cols; j++) {
      const bit = j * bits, byte = base + (bit >> 3), shift = bit & 7;
      // a field of <= 8 bits starting at bit `shift` of a byte spans at most 2 bytes
      const word = w.bytes[byte] | ((byte + 1 < base + rowBytes ? w.bytes[byte + 1] : 0) << 8);
      const v = (word >> shift) & mask;
      q[r * cols + j] = v;
      const g = r * (cols / group) + Math.floor(j / group);
      out[r * cols + j] = s[g] * v + bz[g];
    }
  }
  return { values: out, q, scales: s, biases: bz, cols };
}

// ---------- mlx-lm's models, written from models/qwen3.py and models/qwen3_moe.py ----------
// Modules as {path, kind: "linear" | "embedding" | "switch" | "norm", shape (float weight shape)}.
function mlxLmModules(cfg) {
  const mods = [], H = cfg.hidden_size, hd = cfg.head_dim ?? H / cfg.num_attention_heads;
  mods.push({ path: "model.embed_tokens", kind: "embedding", shape: [cfg.vocab_size, H] });
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    mods.push({ path: `${p}.self_attn.q_proj`, kind: "linear", shape: [cfg.num_attention_heads * hd, H] });
    mods.push({ path: `${p}.self_attn.k_proj`, kind: "linear", shape: [cfg.num_key_value_heads * hd, H] });
    mods.push({ path: `${p}.self_attn.v_proj`, kind: "linear", shape: [cfg.num_key_value_heads * hd, H] });
    mods.push({ path: `${p}.self_attn.o_proj`, kind: "linear", shape: [H, cfg.num_attention_heads * hd] });
    mods.push({ path: `${p}.self_attn.q_norm`, kind: "norm", shape: [hd] }, { path: `${p}.self_attn.k_norm`, kind: "norm", shape: [hd] });
    const moe = cfg.model_type === "qwen3_moe" && !(cfg.mlp_only_layers ?? []).includes(l) && cfg.num_experts > 0 &&
      (l + 1) % (cfg.decoder_sparse_step ?? 1) === 0;
    if (moe) {
      const E = cfg.num_experts, F = cfg.moe_intermediate_size;
      mods.push({ path: `${p}.mlp.gate`, kind: "linear", shape: [E, H] });
      mods.push({ path: `${p}.mlp.switch_mlp.gate_proj`, kind: "switch", shape: [E, F, H] });
      mods.push({ path: `${p}.mlp.switch_mlp.up_proj`, kind: "switch", shape: [E, F, H] });
      mods.push({ path: `${p}.mlp.switch_mlp.down_proj`, kind: "switch", shape: [E, H, F] });
    } else {
      const F = cfg.intermediate_size;
      mods.push({ path: `${p}.mlp.gate_proj`, kind: "linear", shape: [F, H] }, { path: `${p}.mlp.up_proj`, kind: "linear", shape: [F, H] });
      mods.push({ path: `${p}.mlp.down_proj`, kind: "linear", shape: [H, F] });
    }
    mods.push({ path: `${p}.input_layernorm`, kind: "norm", shape: [H] }, { path: `${p}.post_attention_layernorm`, kind: "norm", shape: [H] });
  }
  mods.push({ path: "model.norm", kind: "norm", shape: [H] });
  if (!cfg.tie_word_embeddings) mods.push({ path: "lm_head", kind: "linear", shape: [cfg.vocab_size, H] });
  return mods;
}
// ModelArgs fields without defaults (qwen3.py / qwen3_moe.py dataclasses): from_dict fails without them.
const REQUIRED_ARGS = {
  qwen3: ["model_type", "hidden_size", "num_hidden_layers", "intermediate_size", "num_attention_heads", "rms_norm_eps",
    "vocab_size", "num_key_value_heads", "max_position_embeddings", "rope_theta", "head_dim", "tie_word_embeddings"],
  qwen3_moe: ["model_type", "hidden_size", "num_hidden_layers", "intermediate_size", "num_attention_heads", "num_experts",
    "num_experts_per_tok", "decoder_sparse_step", "mlp_only_layers", "moe_intermediate_size", "rms_norm_eps", "vocab_size",
    "num_key_value_heads", "head_dim", "rope_theta", "tie_word_embeddings", "max_position_embeddings", "norm_topk_prob"],
};

// The HF source of an mlx-lm float weight (sanitize stacks experts.E.X_proj into switch_mlp.X_proj).
function hfWeight(hf, mod) {
  if (mod.kind !== "switch") return toFloats(hf.get(`${mod.path}.weight`));
  const [E] = mod.shape, per = mod.shape[1] * mod.shape[2], out = new Float64Array(E * per);
  const proj = mod.path.split(".").pop();
  const base = mod.path.replace(/switch_mlp\.[a-z_]+$/, "experts");
  for (let e = 0; e < E; e++) out.set(toFloats(hf.get(`${base}.${e}.${proj}.weight`)), e * per);
  return out;
}

const BF16_EPS = 2 ** -8;  // relative rounding of a BF16 (F16: 2^-11) scale or bias
function checkFolder(dir, hfDir) {
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
  const hfCfg = JSON.parse(fs.readFileSync(path.join(hfDir, "config.json"), "utf8"));
  const errors = [];
  for (const k of REQUIRED_ARGS[cfg.model_type] ?? []) if (!(k in cfg)) errors.push(`config.json: ModelArgs field '${k}' missing`);
  if (!REQUIRED_ARGS[cfg.model_type]) errors.push(`config.json: model_type '${cfg.model_type}' not handled by this reader`);
  const qcfg = cfg.quantization;
  if (!qcfg || !Number.isInteger(qcfg.group_size) || !Number.isInteger(qcfg.bits)) errors.push("config.json: quantization {group_size, bits} missing");
  if (qcfg?.mode && qcfg.mode !== "affine") errors.push(`quantization.mode ${qcfg.mode}`);
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) if (!fs.existsSync(path.join(dir, f))) errors.push(`${f} missing`);
  const weights = readShards(dir), hf = readShards(hfDir);
  const expected = new Map();
  const stats = { quantized: 0, float: 0, worst: 0, bits: {} };
  for (const mod of mlxLmModules(cfg)) {
    if (mod.kind === "norm") { expected.set(`${mod.path}.weight`, { shape: mod.shape }); continue; }
    // class_predicate
    let q = qcfg?.[mod.path];
    if (q === undefined) q = weights.has(`${mod.path}.scales`) ? { group_size: qcfg.group_size, bits: qcfg.bits } : false;
    else if (q !== false) q = { group_size: q.group_size ?? qcfg.group_size, bits: q.bits ?? qcfg.bits };
    if (q === false) {
      expected.set(`${mod.path}.weight`, { shape: mod.shape });
      stats.float++;
      continue;
    }
    const { bits, group_size: gs } = q;
    if (![2, 3, 4, 5, 6, 8].includes(bits) || ![32, 64, 128].includes(gs)) { errors.push(`${mod.path}: bits ${bits} group ${gs}`); continue; }
    const lead = mod.shape.slice(0, -1), cols = mod.shape.at(-1);
    expected.set(`${mod.path}.weight`, { shape: [...lead, (cols * bits) / 32], dtype: "U32" });
    expected.set(`${mod.path}.scales`, { shape: [...lead, cols / gs], float: true });
    expected.set(`${mod.path}.biases`, { shape: [...lead, cols / gs], float: true });
    const w = weights.get(`${mod.path}.weight`), s = weights.get(`${mod.path}.scales`), b = weights.get(`${mod.path}.biases`);
    if (!w || !s || !b || w.dtype !== "U32" || JSON.stringify(w.shape) !== JSON.stringify([...lead, (cols * bits) / 32])) continue;  // reported below
    const d = dequantize(w, s, b, bits, gs);
    const src = hfWeight(hf, mod);
    const eps = s.dtype === "F16" ? 2 ** -11 : BF16_EPS;
    let worst = 0, worstAt = -1;
    for (let i = 0; i < src.length; i++) {
      const g = Math.floor(i / gs);
      const bound = Math.abs(d.scales[g]) * (1 + 1 / ((1 << bits) - 1)) + eps * (Math.abs(d.scales[g]) * ((1 << bits) - 1) + Math.abs(d.biases[g])) + 1e-7;
      const r = Math.abs(d.values[i] - src[i]) / bound;
      if (r > worst) { worst = r; worstAt = i; }
    }
    stats.quantized++;
    stats.bits[`${bits}b/g${gs}`] = (stats.bits[`${bits}b/g${gs}`] ?? 0) + 1;
    stats.worst = Math.max(stats.worst, worst);
    if (worst > 1) errors.push(`${mod.path}: element ${worstAt} dequantizes to ${d.values[worstAt]}, source ${src[worstAt]}: ` +
      `${worst.toFixed(2)} x the quantization bound (${bits} bits, group ${gs})`);
  }
  // strict load_weights: same names, same shapes; packed weights U32; scales/biases in one float dtype.
  for (const [name, e] of expected) {
    const t = weights.get(name);
    if (!t) { errors.push(`${name}: missing (mlx-lm's model declares it)`); continue; }
    if (JSON.stringify(t.shape) !== JSON.stringify(e.shape)) errors.push(`${name}: shape ${JSON.stringify(t.shape)}, mlx-lm expects ${JSON.stringify(e.shape)}`);
    if (e.dtype && t.dtype !== e.dtype) errors.push(`${name}: dtype ${t.dtype}, expected ${e.dtype}`);
    if (!e.dtype && !["BF16", "F16", "F32"].includes(t.dtype)) errors.push(`${name}: dtype ${t.dtype}, expected a float`);
  }
  for (const name of weights.keys()) if (!expected.has(name)) errors.push(`${name}: not a parameter of mlx-lm's ${cfg.model_type} model (strict load fails)`);
  for (const k of Object.keys(qcfg ?? {})) {
    if (["group_size", "bits", "mode"].includes(k)) continue;
    if (!weights.has(`${k}.weight`)) errors.push(`quantization['${k}'] names no module`);
  }
  if (hfCfg.torch_dtype && hfCfg.torch_dtype !== "bfloat16") errors.push(`fixture dtype ${hfCfg.torch_dtype}`);
  return { errors, stats };
}

const missingFor = (name) => () => firstReason(skipUnless(quantBin), fixtureMissing(name));
const CASES = [
  ["tiny-qwen3", "4bit,4bit-pure,3bit-g32,6bit-g128-pure,8bit,2bit-g64-pure,5bit-g32"],
  ["tiny-qwen3moe", "4bit,3bit-g64-pure"],
];
for (const [name, precisions] of CASES) {
  test(`${name}: MLX folders load as mlx-lm would and dequantize within the quantization step (${precisions})`, gated(missingFor(name), () => {
    const out = path.join(tempDir("lp-mlx-peer-"), "out");
    const summary = JSON.parse(quant(["convert", fixture(name), "-o", out, "--formats", "mlx", "-p", precisions, "-q", "--json"]));
    const dirs = summary.artifacts.filter((a) => a.format === "mlx").map((a) => path.join(out, a.path));
    assert.equal(dirs.length, precisions.split(",").length);
    const failures = [];
    for (const d of dirs) {
      const { errors, stats } = checkFolder(d, fixture(name));
      console.log(`# ${name} ${path.basename(d)}: ${stats.quantized} quantized modules ${JSON.stringify(stats.bits)}, ${stats.float} float; ` +
        `worst element ${stats.worst.toFixed(3)} x bound; ${errors.length} errors`);
      if (stats.quantized === 0) errors.push("no quantized module");
      failures.push(...errors.slice(0, 10).map((e) => `${path.basename(d)}: ${e}`));
    }
    assert.deepEqual(failures, []);
  }));
}
