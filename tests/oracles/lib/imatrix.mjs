// Test helpers shared by the quantizer peer tests: a deterministic generator and llama.cpp's legacy imatrix (.dat).
import fs from "node:fs";

// mulberry32: deterministic floats in [0, 1).
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// llama.cpp's legacy imatrix (.dat): n_entries, then per entry name, ncall, nval, values (importance = value / ncall),
// then the chunk count and dataset name. ncall 1: the values are the importance.
export function writeLegacyImatrix(file, entries, dataset = "test") {
  const parts = [];
  const i32 = (v) => { const b = Buffer.alloc(4); b.writeInt32LE(v); parts.push(b); };
  i32(entries.size);
  for (const [name, values] of entries) {
    const nb = Buffer.from(name, "utf8");
    i32(nb.length);
    parts.push(nb);
    i32(1);
    i32(values.length);
    parts.push(Buffer.from(Float32Array.from(values).buffer));
  }
  i32(1);
  const ds = Buffer.from(dataset, "utf8");
  i32(ds.length);
  parts.push(ds);
  fs.writeFileSync(file, Buffer.concat(parts));
}
