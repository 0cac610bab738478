// Our engine against llama.cpp on the generated checkpoints of one family (qwen35*, gemma4 oracle tests): the F32
// GGUF's top-k log-probs on the probe tokens, greedy generation after the prompt, perplexity of every converted GGUF
// and of the HF folder itself. Measures and logs; each test asserts its own tolerances.
import { run } from "./run.mjs";
import { readProbs, topKAgreement } from "./llama.mjs";

// s: what the test's prepare() returns (files by type, peer results by type: [perplexity, generate, probs], src,
// tokens, promptTokens, tokensFile, probsFile).
export function engineVsPeer(label, s, { nProbe, window, chunks, env }) {
  const f32 = s.peer.f32;
  if (!f32.ok) throw new Error(`${label}: llama.cpp failed on the F32 GGUF: ${f32.error}`);
  const probs = readProbs(s.probsFile, f32.results[2].vocab);
  const mine = JSON.parse(run(["logits", "--model", s.files.f32, "--tokens", s.tokens.slice(0, nProbe).join(","),
    "--top-k", "10", "--json"], env));
  const a = topKAgreement(mine.positions, probs);
  const gen = f32.results[1];
  const ourGen = JSON.parse(run(["generate", "--model", s.files.f32, "--prompt-tokens", s.promptTokens.join(","), "-n",
    String(gen.tokens.length), "--temperature", "0", "--json"], env));
  const ppl = {};
  const pplArgs = (model) => ["perplexity", "--model", model, "--tokens-file", s.tokensFile, "--ctx", String(window),
    "--chunks", String(chunks), "--json"];
  for (const [type, file] of Object.entries(s.files)) {
    const ours = JSON.parse(run(pplArgs(file), env));
    const peer = s.peer[type].results[0];
    if (ours.scored_tokens !== peer.scored) throw new Error(`${label} ${type}: scored tokens ${ours.scored_tokens} vs ${peer.scored}`);
    ppl[type] = { ours: ours.perplexity, llama: peer.ppl, rel: ours.perplexity / peer.ppl - 1 };
  }
  // The HF folder itself must give exactly the F32 GGUF's perplexity (same F32 math on the same values; BF16 weights
  // are exact in F32): the tests assert it.
  const folder = JSON.parse(run(pplArgs(s.src), env));
  console.log(`generated ${label} F32: top-1 ${a.top1}/${a.positions}, |dlogp| max ${a.maxDiff.toExponential(2)} ` +
    `mean ${a.meanDiff.toExponential(2)}; greedy ${JSON.stringify(gen.tokens)}; perplexity ` +
    Object.entries(ppl).map(([t, p]) => `${t} ours ${p.ours.toFixed(3)} llama.cpp ${p.llama.toFixed(3)} (rel ${p.rel.toExponential(2)})`).join(", ") +
    `; HF folder ${folder.perplexity.toFixed(3)}`);
  return { a, gen, ourGen, ppl, folder };
}
