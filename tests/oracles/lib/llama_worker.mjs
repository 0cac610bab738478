// Child process for llama.mjs: loads one GGUF in node-llama-cpp, runs the jobs read as JSON from stdin,
// prints one JSON line {ok, results} and exits. With modelPath null it only checks that llama.cpp loads.
import fs from "node:fs";

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

async function main() {
  const req = await readStdin();
  const { getLlama, LlamaCompletion } = await import("node-llama-cpp");
  const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
  if (!req.modelPath) return { ok: true, results: [] };
  const model = await llama.loadModel({ modelPath: req.modelPath });
  const context = await model.createContext({ contextSize: req.contextSize, batchSize: req.contextSize, threads: 2 });
  const nVocab = vocabSize(model);
  const results = [];
  for (const job of req.jobs) {
    if (job.op === "info") {
      results.push({ vocab: nVocab, trainContextSize: model.trainContextSize });
    } else if (job.op === "tokenize") {
      results.push({ ids: job.texts.map((t) => Array.from(model.tokenize(t, job.special ?? false))) });
    } else if (job.op === "generate") {
      // Greedy decoding by hand: one controlledEvaluate per token (LlamaCompletion was ~2.5 s/token here).
      const sequence = context.getSequence();
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
      sequence.dispose();
      results.push({ tokens, text: model.detokenize(tokens) });
    } else if (job.op === "probs") {
      const sequence = context.getSequence();
      const options = { temperature: 1, topK: 0, topP: 1, minP: 0 };
      const out = await sequence.controlledEvaluate(job.tokens.map((t) => [t, { generateNext: { probabilities: true, options } }]));
      sequence.dispose();
      const matrix = new Float32Array(out.length * nVocab);
      out.forEach((o, i) => {
        for (const [token, p] of o.next.probabilities) matrix[i * nVocab + token] = p;
      });
      fs.writeFileSync(job.out, Buffer.from(matrix.buffer));
      results.push({ positions: out.length, vocab: nVocab });
    } else {
      throw new Error(`unknown job op '${job.op}'`);
    }
  }
  await context.dispose();
  await model.dispose();
  return { ok: true, results };
}

// Rows of token_embd.weight (the logits' width); falls back to the tokenizer's token list.
function vocabSize(model) {
  const embd = model.fileInfo.tensorInfo?.find((t) => t.name === "token_embd.weight");
  if (embd) return Number(embd.dimensions[1]);
  return model.fileInfo.metadata.tokenizer.ggml.tokens.length;
}

main().then(
  (reply) => { process.stdout.write(JSON.stringify(reply) + "\n"); process.exit(0); },
  (err) => { process.stdout.write(JSON.stringify({ ok: false, error: String(err?.stack ?? err) }) + "\n"); process.exit(1); },
);
