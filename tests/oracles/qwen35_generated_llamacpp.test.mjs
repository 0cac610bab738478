// Peer test (issue #20): generated Qwen 3.5 checkpoints (`make-test-model --family qwen35 | qwen35moe`: random
// weights with the real shapes' quirks: 2 key / 4 value heads so llama.cpp's V-head reordering matters, partial
// rotary 16 of 64 dims with interleaved mrope sections, layer_types 3 linear : 1 full, conv kernel 4, one MTP layer
// in the checkpoint that the converter drops; qwen35moe: 8 routed experts, 2 per token, one sigmoid-gated shared
// expert), converted by us at F32, Q8_0, Q4_K_M and `--precision auto`:
// - the GGUF layout llama.cpp's converter writes (qwen35moe keys and stacked expert / shared-expert tensors),
// - llama.cpp (node-llama-cpp) loads every file and generates,
// - our engine vs llama.cpp on the same file: F32 top-1 identical at every position, |dlogp| within float noise,
//   greedy continuation identical; perplexity within 0.5% at every type (measured: see docs/ARCHITECTURES.md).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { quantBin, runBin, fixturesDir, skipUnless } from "./lib/paths.mjs";
import { tempDir, convertGguf, generateTiny, run } from "./lib/run.mjs";
import { llamaBatch, llamaUnavailable } from "./lib/llama.mjs";
import { gated, firstReason } from "./lib/require.mjs";
import { engineVsPeer } from "./lib/engine_vs_peer.mjs";
import { readGgufFileInfo } from "node-llama-cpp";

const heldoutFile = path.join(fixturesDir, "heldout.txt");
const N_PROBE = 128, WINDOW = 128, CHUNKS = 4;
const PROMPT = "And the LORD said unto Moses,";
const env = { env: { OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? "passive" } };
const missing = () => firstReason(skipUnless(quantBin, runBin, heldoutFile), llamaUnavailable);

// Each family: generated once, converted at every type, then one llama.cpp worker process for all its files.
const state = {};
function prepare(family) {
  if (state[family]) return state[family];
  const dir = tempDir(`lp-${family}-gen-`);
  const src = generateTiny(family, path.join(dir, "src"), ["--seed", "7"]);
  const files = {};
  for (const [type, precision, extra] of [["f32", "f32", []], ["q8_0", "q8_0", []], ["q4_k_m", "q4_k_m", []],
    ["auto", "auto", ["--target-bpw", "5"]]]) {
    const [f] = convertGguf(src, path.join(dir, type), precision, extra);
    assert.ok(f && fs.existsSync(f), `${family} ${type}: no GGUF written`);
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
  state[family] = { dir, src, files, tokens, promptTokens, tokensFile, probsFile,
    peer: Object.fromEntries(Object.keys(files).map((t, i) => [t, peer[i]])) };
  return state[family];
}

async function shapes(file) {
  const info = await readGgufFileInfo(file);
  return { info, shapes: Object.fromEntries(info.fullTensorInfo.map((t) => [t.name, t.dimensions.map(Number)])),
    types: Object.fromEntries(info.fullTensorInfo.map((t) => [t.name, t.ggmlType])) };
}

for (const family of ["qwen35", "qwen35moe"]) {
  test(`generated ${family}: GGUF layout as llama.cpp's converter writes it`, gated(missing, async () => {
    const s = prepare(family);
    const { info, shapes: sh, types } = await shapes(s.files.f32);
    assert.equal(info.metadata.general.architecture, family);
    const meta = info.metadata[family];
    assert.deepEqual([meta.block_count, meta.ssm.conv_kernel, meta.ssm.state_size, meta.ssm.group_count,
      meta.ssm.time_step_rank, meta.ssm.inner_size, meta.full_attention_interval, meta.rope.dimension_count],
    [4, 4, 64, 2, 4, 256, 4, 16]);
    assert.deepEqual(Array.from(meta.rope.dimension_sections), [3, 3, 2, 0]);
    assert.deepEqual(sh["blk.0.attn_qkv.weight"], [256, 512]);
    assert.deepEqual(sh["blk.0.ssm_conv1d.weight"], [4, 512]);
    assert.deepEqual(sh["blk.3.attn_q.weight"], [256, 512]);
    assert.ok(!Object.keys(sh).some((n) => n.startsWith("blk.4.") || n.includes("nextn")), "MTP layer written");
    if (family === "qwen35moe") {
      assert.deepEqual([meta.expert_count, meta.expert_used_count, meta.expert_feed_forward_length,
        meta.expert_shared_feed_forward_length], [8, 2, 256, 256]);
      for (const il of [0, 3]) {
        const p = `blk.${il}.`;
        assert.deepEqual(sh[p + "ffn_gate_inp.weight"], [256, 8]);
        assert.deepEqual(sh[p + "ffn_gate_exps.weight"], [256, 256, 8]);
        assert.deepEqual(sh[p + "ffn_up_exps.weight"], [256, 256, 8]);
        assert.deepEqual(sh[p + "ffn_down_exps.weight"], [256, 256, 8]);
        assert.deepEqual(sh[p + "ffn_gate_shexp.weight"], [256, 256]);
        assert.deepEqual(sh[p + "ffn_up_shexp.weight"], [256, 256]);
        assert.deepEqual(sh[p + "ffn_down_shexp.weight"], [256, 256]);
        assert.deepEqual(sh[p + "ffn_gate_inp_shexp.weight"], [256, 1]);
      }
      // The routers stay F32 in every file (llama.cpp's converter and quantizer keep ffn_gate_inp{,_shexp} F32).
      const q = await shapes(s.files.q4_k_m);
      assert.equal(q.types["blk.0.ffn_gate_inp.weight"], 0);
      assert.equal(q.types["blk.0.ffn_gate_inp_shexp.weight"], 0);
      assert.equal(q.types["blk.0.ssm_conv1d.weight"], 0);
    } else {
      assert.deepEqual(sh["blk.0.ffn_down.weight"], [768, 256]);
    }
    assert.equal(types["blk.0.ssm_a"], 0);
  }));

  test(`generated ${family}: llama.cpp loads and generates with our F32, Q8_0, Q4_K_M and auto GGUFs`, gated(missing, () => {
    const s = prepare(family);
    for (const [type, r] of Object.entries(s.peer)) {
      assert.ok(r.ok, `${family} ${type}: llama.cpp failed: ${r.error}`);
      assert.ok(r.results[1].tokens.length > 0, `${family} ${type}: generated nothing`);
      assert.ok(Number.isFinite(r.results[0].ppl), `${family} ${type}: perplexity ${r.results[0].ppl}`);
    }
  }));

  test(`generated ${family}: our engine equals llama.cpp on the same GGUF (top-1, greedy, perplexity)`, gated(missing, () => {
    const s = prepare(family);
    const { a, gen, ourGen, ppl, folder } = engineVsPeer(family, s, { nProbe: N_PROBE, window: WINDOW, chunks: CHUNKS, env });
    // The HF folder (engine/folder_loader.cpp: V-head order, A, fused experts, MTP tensors skipped) = the F32 GGUF.
    assert.ok(Math.abs(folder.perplexity / ppl.f32.ours - 1) < 1e-6, `HF folder ${folder.perplexity} vs F32 GGUF ${ppl.f32.ours}`);
    // F32 on both sides: only summation order differs (llama.cpp's chunked delta rule vs our recurrence).
    assert.equal(a.top1, a.positions, `top-1 differs: ${JSON.stringify(a.flips)}`);
    assert.ok(a.maxDiff < 2e-3, `max |dlogp| ${a.maxDiff}`);
    assert.deepEqual(ourGen.tokens.slice(0, gen.tokens.length), gen.tokens);
    for (const [type, p] of Object.entries(ppl)) assert.ok(Math.abs(p.rel) < 0.005, `${type}: perplexity ${p.ours} vs ${p.llama}`);
  }));
}
