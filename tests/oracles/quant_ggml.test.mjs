// Peer test: our quantizers write the same bytes as ggml's, block by block, for every block type we write.
// The peer is libggml-base from node-llama-cpp (llama.cpp's ggml, the library every other oracle test loads),
// called through lib/ggml_peer.py (python3 ctypes) with ggml_quantize_chunk: the exact call llama-quantize
// makes per tensor. Input: a generated qwen3 checkpoint (F32) whose matrices are overwritten with several
// distributions (Gaussian, Laplace, Student-t-like heavy tails, uniform, outliers, zero / constant / tiny / huge /
// all-negative / half-zero rows), a different seed per tensor; imatrix: a legacy .dat written here with a skewed
// importance per tensor (some columns zero). For each type T and with / without the imatrix, our
// `convert --tensor-type .=T [--imatrix]` output must equal ggml_quantize_chunk(T, same F32 rows, same importance)
// block for block, and (i-quants) ggml's dequantize_row_<type> must decode our file exactly as our dequantizer does.
// The F32 rows are read from our own F32 GGUF of the same checkpoint (so the HF -> GGUF names and
// row order are checked as well) through node-llama-cpp's GGUF parser, not ours.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { readGgufFileInfo, GgmlType } from "node-llama-cpp";
import { quantBin, skipUnless } from "./lib/paths.mjs";
import { ggmlPeer, ggmlPeerMissing, libggmlBase, describeDifference } from "./lib/ggml.mjs";
import { quant, tempDir, generateTiny } from "./lib/run.mjs";
import { gated, firstReason } from "./lib/require.mjs";
import { rng, writeLegacyImatrix } from "./lib/imatrix.mjs";

// Every ggml block type `convert` writes (FORMATS.md "Block layouts").
const TYPES = ["f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "iq4_nl",
  "iq4_xs", "mxfp4", "iq3_s", "iq3_xxs", "iq2_s", "iq1_m", "iq2_xxs", "iq2_xs", "iq1_s"];
// The i-quants llama.cpp will not make without an imatrix (tensor_requires_imatrix): converted only with one. Their
// no-importance path is still compared where llama.cpp takes it: token_embd, which the imatrix does not cover.
const NEEDS_IMATRIX = new Set(["iq3_xxs", "iq2_s", "iq1_m", "iq2_xxs", "iq2_xs", "iq1_s"]);
// ggml itself asserts on these without importance (ggml_quantize_requires_imatrix), token_embd included: their
// runs use an imatrix that also covers token_embd.
const GGML_NEEDS_IMATRIX = new Set(["iq2_xxs", "iq2_xs", "iq1_s"]);
const GGML_ID = { f32: GgmlType.F32, f16: GgmlType.F16, bf16: GgmlType.BF16, q4_0: GgmlType.Q4_0, q4_1: GgmlType.Q4_1,
  q5_0: GgmlType.Q5_0, q5_1: GgmlType.Q5_1, q8_0: GgmlType.Q8_0, q2_K: GgmlType.Q2_K, q3_K: GgmlType.Q3_K,
  q4_K: GgmlType.Q4_K, q5_K: GgmlType.Q5_K, q6_K: GgmlType.Q6_K, iq4_nl: GgmlType.IQ4_NL, iq4_xs: GgmlType.IQ4_XS,
  mxfp4: GgmlType.MXFP4, iq3_s: GgmlType.IQ3_S, iq3_xxs: GgmlType.IQ3_XXS, iq2_s: GgmlType.IQ2_S, iq1_m: GgmlType.IQ1_M,
  iq2_xxs: GgmlType.IQ2_XXS, iq2_xs: GgmlType.IQ2_XS, iq1_s: GgmlType.IQ1_S };

const missing = () => firstReason(skipUnless(quantBin), ggmlPeerMissing());

// The distributions the rows are drawn from.
const KINDS = ["gauss", "laplace", "heavy", "uniform", "outliers", "zero", "const", "tiny", "huge", "negative", "halfzero", "ramp"];
function fillRow(out, kind, r) {
  const n = out.length;
  const gauss = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  for (let i = 0; i < n; i++) {
    let v;
    switch (kind) {
      case "gauss": v = 0.02 * gauss(); break;
      case "laplace": v = 0.02 * (r() < 0.5 ? 1 : -1) * Math.log(1 - r()); break;
      case "heavy": v = 0.01 * gauss() / Math.max(Math.sqrt(-2 * Math.log(1 - r())) * 0.5, 0.05); break;  // t-like tails
      case "uniform": v = 0.1 * (2 * r() - 1); break;
      case "outliers": v = 0.02 * gauss() * (r() < 0.01 ? 50 : 1); break;
      case "zero": v = 0; break;
      case "const": v = 0.375; break;
      case "tiny": v = 1e-7 * gauss(); break;
      case "huge": v = 300 * gauss(); break;
      case "negative": v = -0.001 - Math.abs(0.05 * gauss()); break;
      case "halfzero": v = i < n / 2 ? 0.03 * gauss() : 0; break;
      default: v = (i - n / 2) / 128; break;  // ramp
    }
    out[i] = v;
  }
}

// Overwrites every 2-D F32 tensor of model.safetensors in place: row i of tensor t gets KINDS[(i + t) % 12] with
// seed 1000 + t.
function fillCheckpoint(file) {
  const fd = fs.openSync(file, "r+");
  const lenBuf = Buffer.alloc(8);
  fs.readSync(fd, lenBuf, 0, 8, 0);
  const hlen = Number(lenBuf.readBigUInt64LE(0));
  const hb = Buffer.alloc(hlen);
  fs.readSync(fd, hb, 0, hlen, 8);
  const header = JSON.parse(hb.toString("utf8"));
  let t = 0;
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__" || info.shape.length !== 2) continue;
    assert.equal(info.dtype, "F32", name);
    const [rows, cols] = info.shape;
    const r = rng(1000 + t);
    const data = new Float32Array(rows * cols);
    for (let i = 0; i < rows; i++) fillRow(data.subarray(i * cols, (i + 1) * cols), KINDS[(i + t) % KINDS.length], r);
    fs.writeSync(fd, Buffer.from(data.buffer), 0, data.byteLength, 8 + hlen + info.data_offsets[0]);
    t++;
  }
  fs.closeSync(fd);
}


async function tensorTable(file) {
  const info = await readGgufFileInfo(file, { readTensorInfo: true, logWarnings: false, spliceSplitFiles: false });
  return new Map(info.tensorInfo.map((t) => [t.name, t]));
}

test("every block type we write equals ggml_quantize_chunk block for block (with and without imatrix)", { timeout: 900_000 }, gated(missing, async () => {
  const dir = tempDir("lp-quant-ggml-");
  // hidden 256 (K-quant rows), ffn 512, vocab 1024: 9 matrices of 256 or 512 columns.
  const model = generateTiny("qwen3", path.join(dir, "hf"), ["--dtype", "f32", "--seed", "3", "--hidden", "256", "--layers", "1",
    "--ffn", "512", "--heads", "4", "--kv-heads", "2", "--head-dim", "64", "--vocab", "1024"]);
  fillCheckpoint(path.join(model, "model.safetensors"));
  const convert = (out, extra) => {
    quant(["convert", model, "-o", out, "--formats", "gguf", "-q", "--no-architecture-aware", ...extra]);
    const g = path.join(out, "gguf");
    return path.join(g, fs.readdirSync(g).find((f) => f.endsWith(".gguf")));
  };
  const f32 = convert(path.join(dir, "f32"), ["-p", "f32"]);
  const f32Table = await tensorTable(f32);
  const matrices = [...f32Table.values()].filter((t) => t.dimensions.length === 2 && t.ggmlType === GgmlType.F32);
  assert.ok(matrices.length >= 8, `only ${matrices.length} matrices`);

  // Importance for every matrix but token_embd (llama-imatrix only sees matmul inputs): |gauss|^3-skewed, 1 in 16 zero.
  const imatrix = new Map();
  matrices.filter((t) => t.name !== "token_embd.weight").forEach((t, k) => {
    const r = rng(4242 + k);
    imatrix.set(t.name, Array.from({ length: Number(t.dimensions[0]) }, () => (r() < 1 / 16 ? 0 : Math.pow(r() * 3, 3))));
  });
  const imatrixFile = path.join(dir, "importance.dat");
  writeLegacyImatrix(imatrixFile, imatrix, "quant_ggml.test.mjs");
  const imatrixAll = new Map(imatrix);
  const embd = matrices.find((t) => t.name === "token_embd.weight");
  assert.ok(embd, "token_embd.weight missing");
  const re = rng(777);
  imatrixAll.set(embd.name, Array.from({ length: Number(embd.dimensions[0]) }, () => 0.1 + re() * re() * 4));
  const imatrixAllFile = path.join(dir, "importance_all.dat");
  writeLegacyImatrix(imatrixAllFile, imatrixAll, "quant_ggml.test.mjs");

  // Without an imatrix the sub-3-bit i-quants are refused with a message that names --imatrix / --calibration.
  for (const type of NEEDS_IMATRIX) {
    assert.throws(() => convert(path.join(dir, `${type}-noimatrix`), ["-p", "q8_0", "--tensor-type", `.=${type}`]),
      (e) => /needs an importance matrix/.test(String(e.message ?? e)) && /--imatrix/.test(String(e.message ?? e)) &&
        /--calibration/.test(String(e.message ?? e)), `${type} without an imatrix must be refused`);
  }

  const jobs = [];
  const typesSeen = {};
  for (const type of TYPES) {
    for (const useImatrix of [false, true]) {
      if (useImatrix && (type === "f16" || type === "bf16")) continue;  // float conversions take no importance
      if (!useImatrix && NEEDS_IMATRIX.has(type)) continue;  // refused above
      const tag = `${type}${useImatrix ? "+imatrix" : ""}`;
      const imat = GGML_NEEDS_IMATRIX.has(type) ? imatrixAll : imatrix;
      const file = convert(path.join(dir, tag), ["-p", "q8_0", "--tensor-type", `.=${type}`,
        ...(useImatrix ? ["--imatrix", GGML_NEEDS_IMATRIX.has(type) ? imatrixAllFile : imatrixFile] : [])]);
      const table = await tensorTable(file);
      // The i-quants' grids and sign tables are data: ggml's own decoders must turn every block of our file into the
      // same floats, bit for bit, as our `dequantize` (tests/oracles/gguf_llamacpp.test.mjs does this for the others).
      if (type.startsWith("iq") && type !== "iq4_nl" && type !== "iq4_xs") {
        const deq = path.join(dir, `${tag}-f32.gguf`);
        quant(["dequantize", file, deq]);
        const deqTable = await tensorTable(deq);
        for (const src of matrices)
          jobs.push({ op: "dequantize", name: `${tag} decode ${src.name}`, type: GGML_ID[type], type_name: type,
            rows: Number(src.dimensions[1]), cols: Number(src.dimensions[0]), src: file,
            src_offset: Number(table.get(src.name).fileOffset), ours: deq, ours_offset: Number(deqTable.get(src.name).fileOffset) });
      }
      for (const src of matrices) {
        const q = table.get(src.name);
        assert.ok(q, `${tag}: ${src.name} missing`);
        assert.equal(q.ggmlType, GGML_ID[type], `${tag}: ${src.name} written as ggml type ${q.ggmlType}, not ${type}`);
        typesSeen[tag] = (typesSeen[tag] ?? 0) + 1;
        jobs.push({ name: `${tag} ${src.name}`, type: GGML_ID[type], rows: Number(src.dimensions[1]), cols: Number(src.dimensions[0]),
          src: f32, src_offset: Number(src.fileOffset), ours: file, ours_offset: Number(q.fileOffset),
          imatrix: useImatrix ? imat.get(src.name) ?? null : null });
      }
    }
  }
  const results = ggmlPeer(jobs);
  const blocks = results.reduce((a, x) => a + x.blocks, 0);
  const bad = results.filter((x) => x.differ > 0);
  console.log(`# ${Object.keys(typesSeen).length} type/imatrix combinations x ${matrices.length} matrices = ${results.length} tensors, ` +
    `${blocks} blocks compared against ggml_quantize_chunk (${libggmlBase()}); ${bad.length} tensors differ`);
  assert.deepEqual(bad.map(describeDifference), []);
}));
