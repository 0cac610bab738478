// Peer test (issue #20, Qwen 3.5 dense): our converter's F32 GGUF of the trained tiny-qwen35 fixture (Gated DeltaNet
// 3:1 gated full attention, 2 key / 4 value heads, so llama.cpp's V-head reordering of the linear-attention weights
// matters) loaded by llama.cpp (node-llama-cpp). Its perplexity under llama-perplexity's protocol (-c 256, 64 chunks,
// the first 16,384 tokens of heldout.txt) must equal the fixture's reference.json, which llama.cpp's own converter +
// llama-perplexity reproduce (134.1610, ../shared/fixtures/README.md). A wrong head order, A sign, +1 norm or rope
// key moves it by far more than the bound: the bound is the F32-vs-F32 summation noise seen on the other fixtures
// (<= 1e-5 relative), times 10.
// Then our engine (Gated DeltaNet recurrence token by token, gated attention, partial rotary) on the same file: the
// same perplexity on the same tokens, the same top-1 at every one of 300 positions with log-probs equal to float
// noise, and the same greedy continuation.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { quantBin, runBin, fixture, fixtureMissing, fixturesDir, skipUnless } from "./lib/paths.mjs";
import { tempDir, convertGguf, run } from "./lib/run.mjs";
import { llamaBatch, llamaUnavailable, readProbs } from "./lib/llama.mjs";
import { gated, firstReason } from "./lib/require.mjs";
import { readGgufFileInfo } from "node-llama-cpp";

const NAME = "tiny-qwen35";
const WINDOW = 256, CHUNKS = 64;

test("tiny-qwen35: llama.cpp gives our F32 GGUF the reference perplexity and generates",
  gated(() => firstReason(skipUnless(quantBin), fixtureMissing(NAME), llamaUnavailable), async () => {
    const dir = tempDir("lp-qwen35-");
    const [f32] = convertGguf(fixture(NAME), path.join(dir, "out"), "f32");
    assert.ok(f32 && fs.existsSync(f32), "no F32 GGUF written");

    // The layout llama.cpp's converter writes (Qwen3_5TextModel): arch keys and the recurrent tensors' names/shapes.
    const info = await readGgufFileInfo(f32);
    const meta = info.metadata.qwen35;
    assert.equal(info.metadata.general.architecture, "qwen35");
    assert.deepEqual([meta.ssm.conv_kernel, meta.ssm.state_size, meta.ssm.group_count, meta.ssm.time_step_rank,
      meta.ssm.inner_size, meta.full_attention_interval, meta.rope.dimension_count], [4, 64, 2, 4, 256, 4, 16]);
    assert.deepEqual(Array.from(meta.rope.dimension_sections), [3, 3, 2, 0]);
    const shapes = Object.fromEntries(info.fullTensorInfo.map((t) => [t.name, t.dimensions.map(Number)]));
    assert.deepEqual(shapes["blk.0.attn_qkv.weight"], [256, 512]);
    assert.deepEqual(shapes["blk.0.attn_gate.weight"], [256, 256]);
    assert.deepEqual(shapes["blk.0.ssm_conv1d.weight"], [4, 512]);
    assert.deepEqual(shapes["blk.0.ssm_a"], [4]);
    assert.deepEqual(shapes["blk.0.ssm_dt.bias"], [4]);
    assert.deepEqual(shapes["blk.0.ssm_norm.weight"], [64]);
    assert.deepEqual(shapes["blk.3.attn_q.weight"], [256, 512]);  // query + output gate per head
    assert.ok(shapes["blk.3.post_attention_norm.weight"], "pre-FFN norm must be named post_attention_norm");

    const text = fs.readFileSync(path.join(fixturesDir, "heldout.txt"), "utf8");
    const [r] = llamaBatch([{ modelPath: f32, jobs: [
      { op: "perplexity", text, maxTokens: WINDOW * CHUNKS, window: WINDOW, chunks: CHUNKS },
      { op: "generate", prompt: "And the LORD said unto Moses,", maxTokens: 12 }] }], { contextSize: WINDOW });
    assert.ok(r.ok, r.error);
    const [ppl, gen] = r.results;
    const ref = JSON.parse(fs.readFileSync(path.join(fixture(NAME), "reference.json"), "utf8"));
    const rel = ppl.ppl / ref.heldout_ppl_ctx256_second_half - 1;
    console.log(`tiny-qwen35 F32 (our converter): llama.cpp ppl ${ppl.ppl.toFixed(4)} reference ` +
      `${ref.heldout_ppl_ctx256_second_half.toFixed(4)} (rel ${rel.toExponential(2)}); text ${JSON.stringify(gen.text)}`);
    assert.equal(ppl.scored, ref.scored_tokens);
    assert.ok(Math.abs(rel) < 1e-4, `perplexity ${ppl.ppl} vs reference ${ref.heldout_ppl_ctx256_second_half}`);
    assert.ok(gen.tokens.length > 0, "generated nothing");
    f32File = f32;
    llamaPpl = ppl;
    heldoutTokens = ppl.tokens;
  }));

let f32File = null, llamaPpl = null, heldoutTokens = null;

test("tiny-qwen35: our engine equals llama.cpp on the same GGUF (perplexity, top-1, greedy)",
  gated(() => firstReason(skipUnless(quantBin, runBin), fixtureMissing(NAME), llamaUnavailable,
    () => (f32File ? false : "the F32 GGUF test above did not pass")), () => {
    const dir = tempDir("lp-qwen35-engine-");
    const tokensFile = path.join(dir, "tokens.txt");
    fs.writeFileSync(tokensFile, heldoutTokens.join(" "));
    const env = { env: { OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? "passive" } };
    const ours = JSON.parse(run(["perplexity", "--model", f32File, "--tokens-file", tokensFile, "--ctx", String(WINDOW),
      "--chunks", String(CHUNKS), "--json"], env));
    const rel = ours.perplexity / llamaPpl.ppl - 1;
    assert.equal(ours.scored_tokens, llamaPpl.scored);

    const probe = heldoutTokens.slice(0, 300), probsFile = path.join(dir, "probs.f32");
    const prompt = "And the LORD said unto Moses,";
    const [r] = llamaBatch([{ modelPath: f32File, jobs: [{ op: "probs", tokens: probe, out: probsFile },
      { op: "tokenize", texts: [prompt] }, { op: "generate", prompt, maxTokens: 24 }] }], { contextSize: 512 });
    assert.ok(r.ok, r.error);
    const [probs, tok, gen] = r.results;
    const peer = readProbs(probsFile, probs.vocab);
    const mine = JSON.parse(run(["logits", "--model", f32File, "--tokens", probe.join(","), "--top-k", "5", "--json"], env));
    let top1 = 0, maxDiff = 0;
    for (let i = 0; i < probe.length; i++) {
      const p = peer[i];
      let arg = 0;
      for (let t = 1; t < p.length; t++) if (p[t] > p[arg]) arg = t;
      if (mine.positions[i].top[0].id === arg) top1++;
      for (const { id, logprob } of mine.positions[i].top)
        if (p[id] > 1e-6) maxDiff = Math.max(maxDiff, Math.abs(Math.log(p[id]) - logprob));
    }
    const ptoks = tok.ids[0];
    const ourGen = JSON.parse(run(["generate", "--model", f32File, "--prompt-tokens", ptoks.join(","), "-n",
      String(gen.tokens.length), "--temperature", "0", "--json"], env));
    console.log(`tiny-qwen35 F32: ppl ours ${ours.perplexity.toFixed(5)} llama.cpp ${llamaPpl.ppl.toFixed(5)} ` +
      `(rel ${rel.toExponential(2)}); top-1 ${top1}/${probe.length}; max |dlogp| ${maxDiff.toExponential(2)}`);
    // F32 on both sides: only summation order differs (llama.cpp's chunked delta rule for prefill vs our
    // token-by-token recurrence). The other fixtures measure <= 2.3e-6 relative perplexity and 5e-5 log-prob.
    assert.ok(Math.abs(rel) < 1e-4, `perplexity ours ${ours.perplexity} vs llama.cpp ${llamaPpl.ppl}`);
    assert.equal(top1, probe.length);
    assert.ok(maxDiff < 1e-3, `max log-prob difference ${maxDiff}`);
    assert.deepEqual(ourGen.tokens.slice(0, gen.tokens.length), gen.tokens);
  }));
