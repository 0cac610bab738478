// Peer test for `llama-pajamas-run serve`: the official `openai` npm client (pinned in package.json) talks to
// our server as it would to api.openai.com. On a generated tiny qwen3 checkpoint (its tokenizer and chat
// template included), served from the HF folder:
//  - models.list, chat.completions.create (plain and streamed with usage), completions.create: the client
//    parses every response; the streamed deltas reassemble to the non-streamed answer (greedy);
//  - the chat prompt is the model's own template as transformers renders it: usage.prompt_tokens equals the
//    token count of @huggingface/jinja's rendering, tokenized by our tokenizer;
//  - errors come back as the client's typed errors (AuthenticationError 401, BadRequestError 400 with param).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync, spawn } from "node:child_process";
import readline from "node:readline";
import OpenAI from "openai";
import { Template } from "@huggingface/jinja";
import { quantBin, runBin, skipUnless } from "./lib/paths.mjs";
import { gated } from "./lib/require.mjs";

const missing = skipUnless(quantBin, runBin);
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "lp-serve-oracle-"));
const env = { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? "passive" };
const API_KEY = "test-key";
let server, client, modelDir;

before(async () => {
  if (missing) return;
  modelDir = path.join(workDir, "qwen3");
  execFileSync(quantBin, ["make-test-model", "--family", "qwen3", "--preset", "tiny", "--seed", "5", "-o", modelDir], { env });
  server = spawn(runBin, ["serve", "-m", modelDir, "--port", "0", "--json", "--ctx", "512", "--parallel", "4", "-t", "2", "--api-key", API_KEY,
    "--model-name", "tiny-qwen3"], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  server.stderr.on("data", (d) => { stderr += d; });
  const first = await new Promise((resolve, reject) => {
    readline.createInterface({ input: server.stdout }).once("line", resolve);
    server.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  const { port } = JSON.parse(first);
  client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: API_KEY, maxRetries: 0 });
});

after(() => {
  if (server) server.kill("SIGTERM");
  fs.rmSync(workDir, { recursive: true, force: true });
});

const messages = [
  { role: "system", content: "You are a helpful assistant." },
  { role: "user", content: "Write one short sentence about the sea." },
];

test("models.list names the served model", gated(missing, async () => {
  const page = await client.models.list();
  assert.deepEqual(page.data.map((m) => m.id), ["tiny-qwen3"]);
}));

test("chat completion, plain and streamed, agree and use the model's template", gated(missing, async () => {
  const plain = await client.chat.completions.create({ model: "tiny-qwen3", messages, max_tokens: 24, temperature: 0 });
  const answer = plain.choices[0].message.content;
  assert.equal(plain.object, "chat.completion");
  assert.equal(plain.choices[0].message.role, "assistant");
  assert.equal(plain.choices[0].finish_reason, "length");
  assert.equal(plain.usage.completion_tokens, 24);
  assert.ok(answer.length > 0);

  // transformers' rendering of the model's own template (add_generation_prompt), tokenized by us.
  const cfg = JSON.parse(fs.readFileSync(path.join(modelDir, "tokenizer_config.json"), "utf8"));
  const rendered = new Template(cfg.chat_template).render({ messages, add_generation_prompt: true, bos_token: "", eos_token: "" });
  const ids = JSON.parse(execFileSync(runBin, ["tokenize", "--model", modelDir, "--text", rendered, "--json", "--no-special"], { encoding: "utf8", env }));
  assert.equal(plain.usage.prompt_tokens, ids.length, "prompt tokens = tokens of the jinja-rendered conversation");

  const stream = await client.chat.completions.create({ model: "tiny-qwen3", messages, max_tokens: 24, temperature: 0, stream: true,
    stream_options: { include_usage: true } });
  let text = "", finish = null, usage = null, chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      text += choice.delta?.content ?? "";
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  assert.ok(chunks >= 3);
  assert.equal(text, answer, "streamed deltas reassemble to the plain answer");
  assert.equal(finish, "length");
  assert.equal(usage.completion_tokens, 24);
  assert.ok(usage.prompt_tokens_details.cached_tokens > 0, "the repeated conversation reuses the KV cache");
}));

test("completions with a stop string", gated(missing, async () => {
  const free = await client.completions.create({ model: "tiny-qwen3", prompt: "The sea is", max_tokens: 16, temperature: 0 });
  const text = free.choices[0].text;
  assert.ok(text.length >= 4, JSON.stringify(text));
  const stop = text.slice(2, 4);
  const cut = await client.completions.create({ model: "tiny-qwen3", prompt: "The sea is", max_tokens: 16, temperature: 0, stop: [stop] });
  assert.equal(cut.choices[0].text, text.slice(0, text.indexOf(stop)));
  assert.equal(cut.choices[0].finish_reason, "stop");
}));

test("errors reach the client as typed API errors", gated(missing, async () => {
  const noKey = new OpenAI({ baseURL: client.baseURL, apiKey: "wrong", maxRetries: 0 });
  await assert.rejects(noKey.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  await assert.rejects(client.chat.completions.create({ model: "tiny-qwen3", messages, temperature: 5 }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === "temperature");
  await assert.rejects(client.chat.completions.create({ model: "tiny-qwen3", messages: [] }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === "messages");
  await assert.rejects(client.chat.completions.create({ model: "tiny-qwen3", messages, n: 9 }),  // above --parallel 4
    (e) => e instanceof OpenAI.BadRequestError && e.param === "n");
  const two = await client.chat.completions.create({ model: "tiny-qwen3", messages, max_tokens: 3, temperature: 0, n: 2 });
  assert.deepEqual(two.choices.map((c) => c.index), [0, 1]);
  assert.equal(two.choices[0].message.content, two.choices[1].message.content);  // greedy: the same text
  // and the server keeps serving
  const ok = await client.chat.completions.create({ model: "tiny-qwen3", messages, max_tokens: 2 });
  assert.equal(ok.choices.length, 1);
}));
