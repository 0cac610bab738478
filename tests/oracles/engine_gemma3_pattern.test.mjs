// Peer test (issue #18): a Gemma 3 checkpoint whose sliding_window_pattern is not 6 converts and runs like
// llama.cpp runs it. The engine once hard-coded Gemma 3's period (`il % 6 < 5`) while the converter wrote the
// config's period into `gemma3.attention.sliding_window_pattern`: such a checkpoint converted right and ran wrong.
// Now the engine reads the period through the family description (arch::hparams_from_gguf), like llama.cpp's
// set_swa_pattern. A generated gemma3 (6 layers, window 4, seeded random weights) gets period 3 (layers 2 and 5
// global, the others local) and is converted to F32. Checks: the key is written; top-1 identical at all 48
// positions and |dlogp| within [3e-3 max, 5e-4 mean] (measured 1.1e-3 / 2.5e-4: F32 on both sides, ggml's GELU
// reads an f16 table, as in engine_dense.test.mjs); and the test can tell: the same weights run with period 6
// (what the engine computed before the fix) are off from llama.cpp by more than 0.05 somewhere.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { readGgufFileInfo } from "node-llama-cpp";
import { llamaBatch, llamaUnavailable, readProbs, topKAgreement } from "./lib/llama.mjs";
import { quantBin, runBin, skipUnless } from "./lib/paths.mjs";
import { gated } from "./lib/require.mjs";

const env = { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? "passive" };
const missing = skipUnless(quantBin, runBin) || llamaUnavailable();
const PERIOD = 3, LAYERS = 6, WINDOW = 4, N = 48;

function gemma3WithPeriod(workDir, period) {
  const src = path.join(workDir, `gemma3-src-${period}`);
  execFileSync(quantBin, ["make-test-model", "--family", "gemma3", "--preset", "tiny", "--seed", "11", "--layers", String(LAYERS),
    "--sliding-window", String(WINDOW), "-o", src], { env });
  const cfgPath = path.join(src, "config.json");
  const cfg = JSON.parse(fs.readFileSync(cfgPath, "utf8"));
  cfg.sliding_window_pattern = period;
  cfg.layer_types = Array.from({ length: LAYERS }, (_, i) => ((i + 1) % period === 0 ? "full_attention" : "sliding_attention"));
  fs.writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
  const out = path.join(workDir, `gemma3-f32-${period}`);
  execFileSync(quantBin, ["convert", src, "--output", out, "--formats", "gguf", "--precision", "f32", "--quiet"], { env });
  const dir = path.join(out, "gguf");
  return path.join(dir, fs.readdirSync(dir).find((f) => f.endsWith(".gguf")));
}

test(`gemma3 with sliding_window_pattern ${PERIOD}: logits match llama.cpp (F32)`, gated(missing, async () => {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "lp-gemma3-pattern-"));
  try {
    const file = gemma3WithPeriod(workDir, PERIOD);
    const info = await readGgufFileInfo(file, { logWarnings: false });
    assert.equal(info.metadata.gemma3.attention.sliding_window_pattern, PERIOD, "converter did not write the period");
    assert.equal(info.metadata.gemma3.attention.sliding_window, WINDOW);

    const probsFile = path.join(workDir, "probs.f32");
    const [vinfo] = llamaBatch([{ modelPath: file, jobs: [{ op: "info" }] }], { contextSize: 128 });
    assert.ok(vinfo.ok, `llama.cpp failed to load: ${vinfo.error}`);
    const vocab = vinfo.results[0].vocab;
    let s = 4242;
    const tokens = Array.from({ length: N }, () => { s = (s * 1103515245 + 12345) % 2147483648; return 1 + (s % (vocab - 1)); });
    const [peer] = llamaBatch([{ modelPath: file, jobs: [{ op: "probs", tokens, out: probsFile }] }], { contextSize: 128 });
    assert.ok(peer.ok, `llama.cpp failed: ${peer.error}`);
    const ours = (model) => JSON.parse(execFileSync(runBin, ["logits", "--model", model, "--tokens", tokens.join(","), "--top-k", "10", "--json"],
      { encoding: "utf8", maxBuffer: 1 << 28, env }));
    const peerProbs = readProbs(probsFile, vocab);
    const mine = ours(file);
    assert.equal(mine.positions.length, N);
    const a = topKAgreement(mine.positions, peerProbs);
    console.log(`gemma3 period ${PERIOD}: top-1 ${a.top1}/${a.positions}, |dlogp| max ${a.maxDiff.toExponential(3)} mean ${a.meanDiff.toExponential(3)}`);
    assert.equal(a.top1, a.positions, "top-1 differs from llama.cpp");
    assert.ok(a.maxDiff < 3e-3, `max |dlogp| ${a.maxDiff} >= 3e-3`);
    assert.ok(a.meanDiff < 5e-4, `mean |dlogp| ${a.meanDiff} >= 5e-4`);

    // The control: the same weights with the default period (the engine's old hard-coded 6).
    const wrong = topKAgreement(ours(gemma3WithPeriod(workDir, 6)).positions, peerProbs);
    console.log(`same weights, period 6: top-1 ${wrong.top1}/${wrong.positions}, |dlogp| max ${wrong.maxDiff.toExponential(3)}`);
    assert.ok(wrong.maxDiff > 0.05, `period 6 agrees with llama.cpp's period ${PERIOD} (max |dlogp| ${wrong.maxDiff}): the test cannot tell them apart`);
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}));
