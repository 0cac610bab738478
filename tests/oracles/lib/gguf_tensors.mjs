// Tensor data of GGUF files read through node-llama-cpp's GGUF parser (not ours), for byte comparisons between
// files written by different tools (metadata and tensor order may differ; the tensors must not).
import fs from "node:fs";
import { readGgufFileInfo, GgmlType } from "node-llama-cpp";

// [block size, bytes per block] of the types our converter and llama-quantize write.
const LAYOUT = {
  [GgmlType.F32]: [1, 4], [GgmlType.F16]: [1, 2], [GgmlType.BF16]: [1, 2],
  [GgmlType.Q4_0]: [32, 18], [GgmlType.Q4_1]: [32, 20], [GgmlType.Q5_0]: [32, 22], [GgmlType.Q5_1]: [32, 24],
  [GgmlType.Q8_0]: [32, 34], [GgmlType.Q2_K]: [256, 84], [GgmlType.Q3_K]: [256, 110], [GgmlType.Q4_K]: [256, 144],
  [GgmlType.Q5_K]: [256, 176], [GgmlType.Q6_K]: [256, 210], [GgmlType.IQ4_NL]: [32, 18], [GgmlType.IQ4_XS]: [256, 136],
  [GgmlType.MXFP4]: [32, 17],
};

export function typeName(t) {
  return GgmlType[t] ?? String(t);
}

// Map name -> {type, dims, blockBytes, data: Buffer}.
export async function readTensors(file) {
  const info = await readGgufFileInfo(file, { readTensorInfo: true, logWarnings: false, spliceSplitFiles: false });
  const fd = fs.openSync(file, "r");
  const out = new Map();
  try {
    for (const t of info.tensorInfo) {
      const layout = LAYOUT[t.ggmlType];
      if (!layout) throw new Error(`${file}: ${t.name}: ggml type ${typeName(t.ggmlType)} not handled here`);
      const dims = t.dimensions.map(Number);
      const n = dims.reduce((a, b) => a * b, 1);
      const bytes = (n / layout[0]) * layout[1];
      const data = Buffer.alloc(bytes);
      fs.readSync(fd, data, 0, bytes, Number(t.fileOffset));
      out.set(t.name, { type: t.ggmlType, dims, blockBytes: layout[1], data });
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

// Compares the tensors of two GGUF files: returns {tensors, blocks, differences: [string]} where a difference is a
// missing tensor, another type or shape, or differing blocks (count and the first one).
export async function compareTensors(fileA, fileB, labels = ["A", "B"]) {
  const [a, b] = [await readTensors(fileA), await readTensors(fileB)];
  const differences = [];
  let blocks = 0;
  for (const name of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(name), y = b.get(name);
    if (!x || !y) { differences.push(`${name}: only in ${x ? labels[0] : labels[1]}`); continue; }
    if (x.type !== y.type) { differences.push(`${name}: ${labels[0]} ${typeName(x.type)}, ${labels[1]} ${typeName(y.type)}`); continue; }
    if (JSON.stringify(x.dims) !== JSON.stringify(y.dims)) { differences.push(`${name}: shape ${x.dims} vs ${y.dims}`); continue; }
    const n = x.data.length / x.blockBytes;
    blocks += n;
    if (x.data.equals(y.data)) continue;
    let differ = 0, first = -1;
    for (let i = 0; i < n; i++) {
      const s = i * x.blockBytes, e = s + x.blockBytes;
      if (x.data.compare(y.data, s, e, s, e) !== 0) { differ++; if (first < 0) first = i; }
    }
    differences.push(`${name} (${typeName(x.type)}): ${differ} of ${n} blocks differ, first block ${first}`);
  }
  return { tensors: a.size, blocks, differences };
}
