// llama.cpp (node-llama-cpp, prebuilt CPU library) as a peer. Each model is evaluated in its own child
// process (llama_worker.mjs): loading a second model in one process after a `for await ... break` loop
// was seen to exit silently, and a crash inside llama.cpp (e.g. an unsupported tensor) must fail one test
// with its message rather than kill the runner.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const worker = path.join(path.dirname(fileURLToPath(import.meta.url)), "llama_worker.mjs");

// Runs jobs on one model in a child process. jobs: array of
//   {op: "info"}                                   -> {vocab, trainContextSize}
//   {op: "tokenize", texts, special?}              -> {ids: number[][]}
//   {op: "chatWrapper", history}                   -> {wrapper, text}  (chat format node-llama-cpp resolves, rendered)
//   {op: "generate", prompt, maxTokens}            -> {tokens, text}  (greedy)
//   {op: "probs", tokens, out}                     -> {positions, vocab}; writes Float32 probabilities
//        [positions x vocab] of the next token after each prefix tokens[0..i] to `out` (temperature 1, no truncation)
//   {op: "perplexity", tokens, window, chunks}     -> {ppl, scored}  (llama-perplexity -c window --chunks chunks,
//        BOS in each window's first position when the GGUF says add_bos_token)
//   probs / perplexity with {text, maxTokens} instead of tokens: the model's own tokenization of text (special: false),
//        first maxTokens; the result then carries the `tokens` used (one worker run instead of tokenize, then run)
// Returns {ok: true, results} or {ok: false, error} (load failure, or a crash: error carries stderr).
export function llamaJobs(modelPath, jobs, opts = {}) {
  return llamaBatch([{ modelPath, jobs }], opts)[0];
}

// Several models in one child process (saves ~5 s of start-up per model), each loaded, run and disposed in
// turn. Returns one {ok, results | error} per model; if the process dies, every model gets its error.
// threads: 1 by default: on a loaded 2-core machine, llama.cpp's spinning thread barrier made 2 threads ~10x slower.
export function llamaBatch(models, { contextSize = 512, threads = 1, timeoutMs = 900_000 } = {}) {
  const reply = runWorker({ contextSize, threads, models }, timeoutMs);
  return reply.ok ? reply.models : models.map(() => ({ ok: false, error: reply.error }));
}

function runWorker(request, timeoutMs) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lp-llama-worker-"));
  const replyFile = path.join(dir, "reply.json");
  const r = spawnSync(process.execPath, [worker], { input: JSON.stringify({ ...request, replyFile }), encoding: "utf8",
    maxBuffer: 1 << 30, timeout: timeoutMs });
  let reply = null;
  try { reply = JSON.parse(fs.readFileSync(replyFile, "utf8")); } catch { /* reported below */ }
  fs.rmSync(dir, { recursive: true, force: true });
  if (r.status === 0 && reply?.ok) return reply;
  const stderr = (r.stderr ?? "").trim().split("\n").slice(-15).join("\n");
  return { ok: false, error: `${reply?.error ?? `llama.cpp worker exited ${r.status ?? r.signal}`}\n${stderr}` };
}

// Whether node-llama-cpp's prebuilt CPU backend loads here; returns false or a skip message.
let probed;
export function llamaUnavailable() {
  if (probed === undefined) {
    const r = runWorker({ models: [] }, 120_000);
    probed = r.ok ? false : `node-llama-cpp cannot load: ${r.error}`;
  }
  return probed;
}

// Reads a probabilities file written by a "probs" job as an array of Float32Array rows.
export function readProbs(file, vocab) {
  const buf = fs.readFileSync(file);
  const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const rows = [];
  for (let i = 0; i < all.length / vocab; i++) rows.push(all.subarray(i * vocab, (i + 1) * vocab));
  return rows;
}

// The ids of the `n` largest entries of `p`, largest first; equal values in id order (what a stable sort of all ids by
// descending p gives, in one pass instead of sorting the vocabulary at every position).
export function mostLikely(p, n) {
  const top = [];
  for (let t = 0; t < p.length; t++) {
    const v = p[t];
    if (top.length === n && !(v > p[top[n - 1]])) continue;
    let j = top.length < n ? top.push(t) - 1 : n - 1;
    while (j > 0 && p[top[j - 1]] < v) {
      top[j] = top[j - 1];
      j--;
    }
    top[j] = t;
  }
  return top;
}

// Compares two next-token distributions position by position.
//   maxAbsDlogp: max |log p - log q| over each position's `topN` most likely reference tokens (float noise in
//                 tiny probabilities is meaningless, a decoding error moves the likely ones);
//   top1: fraction of positions with the same argmax; meanKld: mean KL(ref || other).
export function compareDistributions(ref, other, { topN = 10 } = {}) {
  let maxAbsDlogp = 0, top1 = 0, kld = 0, worst = -1;
  for (let i = 0; i < ref.length; i++) {
    const p = ref[i], q = other[i];
    const order = mostLikely(p, topN);
    let qArg = 0;
    for (let t = 1; t < q.length; t++) if (q[t] > q[qArg]) qArg = t;
    if (qArg === order[0]) top1++;
    for (const t of order) {
      const d = Math.abs(Math.log(Math.max(p[t], 1e-30)) - Math.log(Math.max(q[t], 1e-30)));
      if (d > maxAbsDlogp) { maxAbsDlogp = d; worst = i; }
    }
    for (let t = 0; t < p.length; t++) if (p[t] > 0) kld += p[t] * (Math.log(p[t]) - Math.log(Math.max(q[t], 1e-30)));
  }
  return { positions: ref.length, maxAbsDlogp, worstPosition: worst, top1: top1 / ref.length, meanKld: kld / ref.length };
}

// Our `logits --json` positions (top-k per position) against llama.cpp's full distributions: top-1 agreement,
// and |log p - log q| over our 5 most likely tokens where llama.cpp gives them p >= 1e-6. `flips` lists the
// positions whose top-1 differs, with both engines' log-prob margin between the two candidates.
export function topKAgreement(positions, peerProbs) {
  let top1 = 0, maxDiff = 0, sum = 0, n = 0;
  const flips = [];
  positions.forEach((pos, i) => {
    const p = peerProbs[i];
    let arg = 0;
    for (let t = 1; t < p.length; t++) if (p[t] > p[arg]) arg = t;
    if (pos.top[0].id === arg) top1++;
    else flips.push({ position: i, peerMargin: Math.log(p[arg]) - Math.log(p[pos.top[0].id]),
                      ourMargin: pos.top[0].logprob - (pos.top.find((e) => e.id === arg)?.logprob ?? -Infinity) });
    for (const { id, logprob } of pos.top.slice(0, 5)) {
      if (p[id] < 1e-6) continue;
      const d = Math.abs(Math.log(p[id]) - logprob);
      maxDiff = Math.max(maxDiff, d);
      sum += d;
      n++;
    }
  });
  return { top1, positions: positions.length, maxDiff, meanDiff: sum / n, flips };
}
