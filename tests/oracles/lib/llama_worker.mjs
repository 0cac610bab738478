// Child process for llama.mjs: loads one GGUF in node-llama-cpp, runs the jobs read as JSON from stdin,
// writes {ok, models: [{ok, results | error}]} as JSON to request.replyFile and exits. No models: only checks that llama.cpp loads.
import fs from "node:fs";
import { getPeerLlama } from "./peer_llama.mjs";

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

async function main() {
  const req = await readStdin();
  replyFile = req.replyFile;
  // llama.cpp's own warnings/errors are kept so that a load failure reports why ("Failed to load model" alone does not).
  const llamaLog = [];
  const logger = (level, message) => { llamaLog.push(`[${level}] ${message.trimEnd()}`); if (llamaLog.length > 400) llamaLog.shift(); };
  const llama = await getPeerLlama({ gpu: false, build: "never", logLevel: "warn", logger });
  const models = [];
  // Models one after the other, each disposed before the next loads; a failure is recorded per model.
  for (const m of req.models) {
    llamaLog.length = 0;
    try {
      models.push({ ok: true, results: await runModel(llama, m, req) });
    } catch (err) {
      await new Promise((resolve) => setTimeout(resolve, 200));  // llama.cpp's log lines arrive asynchronously
      const why = llamaLog.filter((l) => !l.includes("control-looking")).slice(-10).join("\n");
      models.push({ ok: false, error: `${err?.message ?? err}${why ? `\n${why}` : ""}` });
    }
  }
  return { ok: true, models };
}

async function runModel(llama, { modelPath, jobs }, req) {
  const model = await llama.loadModel({ modelPath });
  const context = await model.createContext({ contextSize: req.contextSize, batchSize: req.contextSize, threads: req.threads ?? 1 });
  const nVocab = vocabSize(model);
  // One sequence, cleared before every job / window (a disposed sequence is not free again at once).
  const sequence = context.getSequence();
  const results = [];
  for (const job of jobs) {
    if (job.op === "info") {
      results.push({ vocab: nVocab, trainContextSize: model.trainContextSize });
    } else if (job.op === "chatWrapper") {
      // Which chat format node-llama-cpp picks from the GGUF (tokenizer.chat_template), and its rendering.
      const { resolveChatWrapper } = await import("node-llama-cpp");
      const wrapper = resolveChatWrapper(model);
      const state = wrapper.generateContextState({ chatHistory: job.history });
      results.push({ wrapper: wrapper.wrapperName, text: state.contextText.toString() });
    } else if (job.op === "tokenize") {
      results.push({ ids: job.texts.map((t) => Array.from(model.tokenize(t, job.special ?? false))) });
    } else if (job.op === "generate") {
      // Greedy decoding by hand: one controlledEvaluate per token (LlamaCompletion was ~2.5 s/token here).
      await sequence.clearHistory();
      const greedy = { token: true, options: { temperature: 0 } };
      const prompt = Array.from(model.tokenize(job.prompt));
      let out = await sequence.controlledEvaluate(prompt.map((t, i) => (i === prompt.length - 1 ? [t, { generateNext: greedy }] : t)));
      const tokens = [];
      for (let i = 0; i < job.maxTokens; i++) {
        const next = out[out.length - 1].next.token;
        tokens.push(next);
        if (model.isEogToken?.(next)) break;
        out = await sequence.controlledEvaluate([[next, { generateNext: greedy }]]);
      }
      results.push({ tokens, text: model.detokenize(tokens) });
    } else if (job.op === "probs") {
      await sequence.clearHistory();
      const options = { temperature: 1, topK: 0, topP: 1, minP: 0 };
      const tokens = jobTokens(model, job);
      const out = await sequence.controlledEvaluate(tokens.map((t) => [t, { generateNext: { probabilities: true, options } }]));
      const matrix = new Float32Array(out.length * nVocab);
      out.forEach((o, i) => {
        for (const [token, p] of o.next.probabilities) matrix[i * nVocab + token] = p;
      });
      fs.writeFileSync(job.out, Buffer.from(matrix.buffer));
      results.push({ positions: out.length, vocab: nVocab, ...(job.tokens ? {} : { tokens }) });
    } else if (job.op === "perplexity") {
      // llama-perplexity's protocol: non-overlapping windows of `window` tokens, each in a fresh sequence,
      // scoring the second half of every window; when the model adds BOS, the window's first token is replaced
      // by BOS (perplexity.cpp: tokens[batch_start] = bos).
      const w = job.window, first = w >> 1;
      const addBos = model.fileInfo.metadata?.tokenizer?.ggml?.add_bos_token === true;
      const tokens = jobTokens(model, job);
      let nll = 0, count = 0;
      for (let c = 0; c + w <= tokens.length && c / w < job.chunks; c += w) {
        const chunk = tokens.slice(c, c + w);
        if (addBos) chunk[0] = model.tokens.bos;
        await sequence.clearHistory();
        const options = { temperature: 1, topK: 0, topP: 1, minP: 0 };
        // perplexity.cpp scores the predictions made at positions first .. w-2 (127 tokens of a 256 window)
        const out = await sequence.controlledEvaluate(chunk.map((t, i) =>
          (i >= first && i < w - 1 ? [t, { generateNext: { probabilities: true, options } }] : t)));
        for (let i = first; i < w - 1; i++) {
          nll -= Math.log(Math.max(out[i].next.probabilities.get(chunk[i + 1]) ?? 0, 1e-30));
          count++;
        }
      }
      results.push({ ppl: Math.exp(nll / count), scored: count, ...(job.tokens ? {} : { tokens }) });
    } else {
      throw new Error(`unknown job op '${job.op}'`);
    }
  }
  await context.dispose();
  await model.dispose();
  return results;
}

// A probs / perplexity job's tokens: `tokens` as given, or `text` tokenized by this model (as the tokenize op does,
// special: false) and cut to the first `maxTokens`; then the reply carries them. Saves a tokenize-only round trip (a
// worker start and a load of every model) where the tokens come from the model's own tokenizer.
function jobTokens(model, job) {
  if (job.tokens) return job.tokens;
  if (typeof job.text !== "string") throw new Error(`${job.op} job without tokens or text`);
  return Array.from(model.tokenize(job.text)).slice(0, job.maxTokens ?? Infinity);
}

// Rows of token_embd.weight (the logits' width); falls back to the tokenizer's token list.
function vocabSize(model) {
  const embd = model.fileInfo.tensorInfo?.find((t) => t.name === "token_embd.weight");
  if (embd) return Number(embd.dimensions[1]);
  return model.fileInfo.metadata.tokenizer.ggml.tokens.length;
}

// The reply goes to a file: a large reply written to a pipe is cut off by process.exit().
let replyFile = null;
main().then(
  (reply) => { fs.writeFileSync(replyFile, JSON.stringify(reply)); process.exit(0); },
  (err) => { fs.writeFileSync(replyFile, JSON.stringify({ ok: false, error: String(err?.stack ?? err) })); process.exit(1); },
);
