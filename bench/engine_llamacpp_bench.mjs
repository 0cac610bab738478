// llama.cpp side of bench/engine_vs_llamacpp.sh: node-llama-cpp's prebuilt CPU libllama, timed like
// llama-bench (pp: one batch of N random tokens into an empty context; tg: N greedy single-token steps).
// usage: node engine_llamacpp_bench.mjs MODEL.gguf [pp=512] [tg=128] [threads]
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const { getLlama } = await import(path.join(here, "../tests/oracles/node_modules/node-llama-cpp/dist/index.js"));
const [model, ppArg, tgArg, thArg] = process.argv.slice(2);
const pp = Number(ppArg ?? 512), tg = Number(tgArg ?? 128);
const threads = thArg ? Number(thArg) : undefined;

const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const t0 = performance.now();
const m = await llama.loadModel({ modelPath: model });
const loadSeconds = (performance.now() - t0) / 1000;
const ctx = await m.createContext({ contextSize: pp + tg + 16, batchSize: pp, threads });
const nVocab = 1000;  // random ids from the low range every vocabulary has
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const prompt = Array.from({ length: pp }, () => 10 + Math.floor(rand() * (nVocab - 10)));

const seq = ctx.getSequence();
async function runPrefill() {
  await seq.clearHistory();
  const t = performance.now();
  await seq.evaluateWithoutGeneratingNewTokens(prompt);
  const s = (performance.now() - t) / 1000;
  return pp / s;
}
async function runDecode() {
  await seq.clearHistory();
  let tok = prompt[0];
  const t = performance.now();
  for (let i = 0; i < tg; i++) {
    const [r] = await seq.controlledEvaluate([[tok, { generateNext: { token: true, options: { temperature: 0 } } }]]);
    tok = r.next.token;
  }
  const s = (performance.now() - t) / 1000;
  return tg / s;
}
let bestPp = 0, bestTg = 0;
for (let rep = 0; rep < 2; rep++) {
  bestPp = Math.max(bestPp, await runPrefill());
  bestTg = Math.max(bestTg, await runDecode());
}
console.log(JSON.stringify({ load_seconds: loadSeconds, prefill_tokens_per_second: bestPp, decode_tokens_per_second: bestTg, threads: threads ?? null }));
await ctx.dispose();
await m.dispose();
