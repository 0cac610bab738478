// GGUF files written by our GgufWriter must read back identically in node-llama-cpp's own GGUF parser
// (the reader llama.cpp's JS bindings use to plan model loading): same version, metadata keys, values
// and types, tensor names, ggml type ids, dimensions and data offsets. The files come from the
// GgufSample unit test (tests/unit/writers/gguf_sample_test.cpp) run with LP_GGUF_SAMPLE_DIR.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { readGgufFileInfo, GgmlType } from "node-llama-cpp";
import { gated, skipOrFail } from "./lib/require.mjs";

const buildDir = process.env.LP_BUILD_DIR ?? path.join(process.env.LP_SOURCE_DIR ?? ".", "build/release");
const quant = path.join(buildDir, "apps/llama-pajamas-quant");
const testWriters = [path.join(buildDir, "tests/test_writers"), path.join(buildDir, "test_writers")].find(existsSync);

function lookup(nested, key) {  // node-llama-cpp nests dotted keys into objects
  let cur = nested;
  for (const part of key.split(".")) {
    if (cur == null || typeof cur !== "object" || !(part in cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

// Their reader yields bigint for 64-bit values beyond 2^53 and plain numbers otherwise; our JSON has numbers.
function normalise(v) {
  if (typeof v === "bigint") return Number(v);
  if (Array.isArray(v)) return v.map(normalise);
  return v;
}

test("GGUF files we write parse identically in node-llama-cpp", gated((!testWriters || !existsSync(quant)) && `build test_writers and llama-pajamas-quant first (in ${buildDir})`, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "lp-gguf-oracle-"));
  try {
    execFileSync(testWriters, ["--gtest_filter=GgufSample.*"], { env: { ...process.env, LP_GGUF_SAMPLE_DIR: dir }, stdio: "pipe" });
    for (const alignment of [32, 64]) {
      const file = path.join(dir, `sample_a${alignment}.gguf`);
      const ours = JSON.parse(execFileSync(quant, ["inspect", file, "--json", "--max-items", "0"], { encoding: "utf8" }));
      const theirs = await readGgufFileInfo(file, { readTensorInfo: true, logWarnings: false, spliceSplitFiles: false });

      assert.equal(theirs.version, ours.version);
      assert.equal(Number(theirs.tensorCount), ours.tensor_count);
      assert.equal(ours.alignment, alignment);
      assert.equal(theirs.infoEndOffset, ours.data_offset, "data section start");
      const keys = Object.keys(ours.metadata);
      assert.ok(keys.length >= 20);
      for (const key of keys) {
        const value = lookup(theirs.metadata, key);
        assert.notEqual(value, undefined, `node-llama-cpp lacks key ${key}`);
        assert.deepEqual(normalise(value), ours.metadata[key], `value of ${key}`);
      }
      assert.equal(lookup(theirs.metadata, "general.alignment"), alignment === 32 ? undefined : 64);

      assert.equal(theirs.tensorInfo.length, ours.tensors.length);
      ours.tensors.forEach((t, i) => {
        const o = theirs.tensorInfo[i];
        assert.equal(o.name, t.name);
        assert.deepEqual(o.dimensions.map(Number), t.shape, `${t.name} dims`);
        assert.equal(GgmlType[o.ggmlType].toLowerCase(), t.type.toLowerCase(), `${t.name} type`);
        assert.equal(Number(o.offset), t.offset, `${t.name} offset`);
        assert.equal(Number(o.fileOffset) % alignment, 0, `${t.name} aligned`);
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}));

// Independent safetensors header parse in JS vs our reader, on the shared trained checkpoints.
test("inspect --json matches a plain JS safetensors header parse", gated(!existsSync(quant) && `build llama-pajamas-quant first (${quant} missing)`, async (t) => {
  const { openSync, readSync, closeSync } = await import("node:fs");
  const fixtures = process.env.LP_SHARED_FIXTURES ?? "";
  const file = path.join(fixtures, "tiny-qwen3/model.safetensors");
  if (!existsSync(file)) {
    skipOrFail(t, `fixture missing: ${file}`);
    return;
  }
  const fd = openSync(file, "r");
  const lenBuf = Buffer.alloc(8);
  readSync(fd, lenBuf, 0, 8, 0);
  const len = Number(lenBuf.readBigUInt64LE(0));
  const headerBuf = Buffer.alloc(len);
  readSync(fd, headerBuf, 0, len, 8);
  closeSync(fd);
  const header = JSON.parse(headerBuf.toString("utf8"));
  const ours = JSON.parse(execFileSync(quant, ["inspect", file, "--json"], { encoding: "utf8" }));
  assert.equal(ours.data_offset, 8 + len);
  assert.deepEqual(ours.metadata, header.__metadata__ ?? {});
  const names = Object.keys(header).filter((k) => k !== "__metadata__");
  assert.equal(ours.tensor_count, names.length);
  for (const tensor of ours.tensors) {
    const h = header[tensor.name];
    assert.ok(h, tensor.name);
    assert.equal(tensor.dtype, h.dtype);
    assert.deepEqual(tensor.shape, h.shape);
    assert.equal(tensor.bytes, h.data_offsets[1] - h.data_offsets[0]);
  }
}));

test("inspect reports corrupt files as one-line errors", gated(!existsSync(quant) && `build llama-pajamas-quant first (${quant} missing)`, async () => {
  const { writeFileSync } = await import("node:fs");
  const dir = mkdtempSync(path.join(tmpdir(), "lp-inspect-bad-"));
  try {
    const bad = path.join(dir, "bad.gguf");
    const b = Buffer.alloc(24);
    b.write("GGUF", 0, "latin1");
    b.writeUInt32LE(3, 4);
    b.writeBigUInt64LE(1n << 40n, 8);  // absurd tensor count
    writeFileSync(bad, b);
    const run = (f) => {
      try {
        execFileSync(quant, ["inspect", f], { encoding: "utf8", stdio: "pipe" });
        return { status: 0, stderr: "" };
      } catch (e) {
        return { status: e.status, stderr: e.stderr };
      }
    };
    let r = run(bad);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^error: .*bad\.gguf: tensor count \d+ exceeds the file size\n$/);
    const badSt = path.join(dir, "bad.safetensors");
    const h = Buffer.from('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    writeFileSync(badSt, Buffer.concat([len, h, Buffer.alloc(8)]));
    r = run(badSt);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^error: .*bad\.safetensors: tensor 'a': data_offsets \[0, 16\] outside the data buffer/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}));

// Real llama.cpp-written GGUFs (vocab-only models from the llama.cpp release node-llama-cpp bundles,
// including a v2 file) must read identically in our reader and in node-llama-cpp's.
test("llama.cpp's own GGUF files read identically", { timeout: 300000 }, gated(!existsSync(quant) && `build llama-pajamas-quant first (${quant} missing)`, async (t) => {
  const bundle = path.join(process.env.LP_SOURCE_DIR ?? ".", "tests/oracles/node_modules/node-llama-cpp/llama/gitRelease.bundle");
  if (!existsSync(bundle)) {
    skipOrFail(t, `node-llama-cpp's llama.cpp bundle missing (${bundle})`);
    return;
  }
  const dir = mkdtempSync(path.join(tmpdir(), "lp-llamacpp-gguf-"));
  try {
    try {
      execFileSync("git", ["init", "-q", dir]);
      execFileSync("git", ["-C", dir, "fetch", "-q", bundle], { stdio: "pipe" });
    } catch (e) {
      skipOrFail(t, `cannot read the bundle with git: ${e.message}`);
      return;
    }
    for (const name of ["ggml-vocab-llama-spm", "ggml-vocab-aquila", "ggml-vocab-qwen2", "ggml-vocab-gemma-4", "ggml-vocab-command-r"]) {
      const file = path.join(dir, `${name}.gguf`);
      const { writeFileSync } = await import("node:fs");
      writeFileSync(file, execFileSync("git", ["-C", dir, "show", `FETCH_HEAD:models/${name}.gguf`], { maxBuffer: 1 << 30 }));
      const ours = JSON.parse(execFileSync(quant, ["inspect", file, "--json", "--max-items", "0"], { encoding: "utf8", maxBuffer: 1 << 30 }));
      const theirs = await readGgufFileInfo(file, { logWarnings: false, spliceSplitFiles: false });
      assert.equal(ours.version, theirs.version, name);
      assert.equal(ours.tensor_count, Number(theirs.tensorCount), name);
      const keys = Object.keys(ours.metadata);
      // node-llama-cpp nests dotted keys, so a key that is also a prefix of another key
      // (tokenizer.chat_template vs tokenizer.chat_template.rag) cannot be looked up there.
      const comparable = keys.filter((k) => !keys.some((o) => o !== k && (o.startsWith(k + ".") || k.startsWith(o + "."))));
      assert.ok(comparable.length >= 15, `${name}: ${comparable.length} keys`);
      for (const key of comparable)
        assert.deepEqual(ours.metadata[key], normalise(lookup(theirs.metadata, key)), `${name}: ${key}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}));
