// Peer test for tool calling, structured output and logprobs in `llama-pajamas-run serve`: the official `openai`
// npm client drives the binary and an independent JSON-schema validator (ajv, pinned in package.json) judges
// what comes back. A generated tiny qwen3 checkpoint whose tokenizer_config.json carries Qwen3's real chat
// template (tests/data/templates/qwen3.jinja: Hermes-style <tool_call> blocks):
//  - tools round trip: tool_choice "required" -> typed tool_calls whose arguments validate against the tool's
//    parameters -> the tool result in the history -> an answer (tool_choice "none");
//  - streamed tool calls (delta.tool_calls[i]) reassemble to the non-streamed call;
//  - response_format json_schema over 100 seeds and schemas covering every supported keyword validate with ajv;
//  - logprobs / top_logprobs parse as the client types them; an unsupported keyword is a BadRequestError naming it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync, spawn } from "node:child_process";
import readline from "node:readline";
import OpenAI from "openai";
import Ajv from "ajv";
import { quantBin, runBin, skipUnless } from "./lib/paths.mjs";
import { gated } from "./lib/require.mjs";

const missing = skipUnless(quantBin, runBin);
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "lp-serve-tools-"));
const env = { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? "passive" };
const sourceDir = process.env.LP_SOURCE_DIR ?? path.resolve(import.meta.dirname, "../..");
let server, client;

before(async () => {
  if (missing) return;
  const modelDir = path.join(workDir, "qwen3");
  execFileSync(quantBin, ["make-test-model", "--family", "qwen3", "--preset", "tiny", "--seed", "5", "-o", modelDir], { env });
  const cfgPath = path.join(modelDir, "tokenizer_config.json");
  const cfg = JSON.parse(fs.readFileSync(cfgPath, "utf8"));
  cfg.chat_template = fs.readFileSync(path.join(sourceDir, "tests/data/templates/qwen3.jinja"), "utf8");
  fs.writeFileSync(cfgPath, JSON.stringify(cfg));
  server = spawn(runBin, ["serve", "-m", modelDir, "--port", "0", "--json", "--ctx", "2048", "-t", "1", "--model-name", "tiny"],
    { env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  server.stderr.on("data", (d) => { stderr += d; });
  const first = await new Promise((resolve, reject) => {
    readline.createInterface({ input: server.stdout }).once("line", resolve);
    server.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  client = new OpenAI({ baseURL: `http://127.0.0.1:${JSON.parse(first).port}/v1`, apiKey: "none", maxRetries: 0 });
});

after(() => {
  if (server) server.kill("SIGTERM");
  fs.rmSync(workDir, { recursive: true, force: true });
});

const ajv = new Ajv({ strict: false });
const weather = {
  type: "object",
  properties: {
    city: { type: "string", maxLength: 12 },
    days: { type: "integer" },
    unit: { enum: ["celsius", "fahrenheit"] },
  },
  required: ["city", "unit"],
  additionalProperties: false,
};
const tools = [{ type: "function", function: { name: "get_weather", description: "Weather of a city", parameters: weather } }];
const user = { role: "user", content: "What is the weather in Paris?" };

test("tools round trip: required call validates, tool result answered", gated(missing, async () => {
  const validate = ajv.compile(weather);
  const first = await client.chat.completions.create({ model: "tiny", messages: [user], tools, tool_choice: "required",
    temperature: 0, max_tokens: 120 });
  const choice = first.choices[0];
  assert.equal(choice.finish_reason, "tool_calls");
  assert.equal(choice.message.content, null);
  assert.equal(choice.message.tool_calls.length, 1);
  const call = choice.message.tool_calls[0];
  assert.equal(call.type, "function");
  assert.equal(call.function.name, "get_weather");
  assert.match(call.id, /^call_/);
  const args = JSON.parse(call.function.arguments);
  assert.ok(validate(args), ajv.errorsText(validate.errors));

  const second = await client.chat.completions.create({ model: "tiny", tools, tool_choice: "none", temperature: 0, max_tokens: 16,
    messages: [user, choice.message, { role: "tool", tool_call_id: call.id, content: "sunny, 21 C" }] });
  assert.equal(typeof second.choices[0].message.content, "string");
  assert.equal(second.choices[0].message.tool_calls, undefined);
  assert.ok(second.usage.prompt_tokens > first.usage.prompt_tokens, "the history (call and result) is in the prompt");
}));

test("streamed tool calls reassemble to the non-streamed call", gated(missing, async () => {
  for (const tool_choice of ["required", { type: "function", function: { name: "get_weather" } }]) {
    const body = { model: "tiny", messages: [user], tools, tool_choice, temperature: 0, max_tokens: 120 };
    const whole = await client.chat.completions.create(body);
    const stream = await client.chat.completions.create({ ...body, stream: true });
    const calls = [];
    let finish = null;
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        if (c.finish_reason) finish = c.finish_reason;
        for (const d of c.delta?.tool_calls ?? []) {
          if (!calls[d.index]) {
            assert.ok(d.id && d.function?.name, "the first delta of a call carries id and name");
            calls[d.index] = { name: d.function.name, arguments: "" };
          }
          calls[d.index].arguments += d.function?.arguments ?? "";
        }
      }
    }
    assert.equal(finish, "tool_calls");
    assert.deepEqual(calls, whole.choices[0].message.tool_calls.map((c) => ({ name: c.function.name, arguments: c.function.arguments })));
  }
}));

// Every supported keyword: type (each, and a list), properties/required, items/minItems/maxItems, minLength/maxLength,
// enum, const, anyOf, $ref/$defs, additionalProperties false.
const schemas = [
  { type: "object", properties: { name: { type: "string", minLength: 1, maxLength: 8 }, age: { type: "integer" }, score: { type: "number" },
    ok: { type: "boolean" }, none: { type: "null" } }, required: ["name", "age", "score", "ok", "none"], additionalProperties: false },
  { type: "array", items: { enum: ["red", "green", 7, null] }, minItems: 2, maxItems: 4 },
  { $defs: { pt: { type: "object", properties: { x: { type: "number" }, y: { type: "number" } }, required: ["x", "y"] } },
    type: "object", properties: { from: { $ref: "#/$defs/pt" }, to: { $ref: "#/$defs/pt" }, tag: { const: "line" } },
    required: ["from", "to", "tag"] },
  { type: "object", properties: { v: { anyOf: [{ type: "integer" }, { type: "string", maxLength: 4 }, { type: "array", items: { type: "boolean" }, maxItems: 2 }] },
    w: { type: ["string", "null"], maxLength: 3 } }, required: ["v"] },
];

test("json_schema outputs validate with ajv on 100 seeds", gated(missing, async () => {
  const validators = schemas.map((s) => ajv.compile(s));
  for (let seed = 0; seed < 100; seed++) {
    const k = seed % schemas.length;
    const r = await client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "Answer in JSON." }], seed,
      temperature: 1, max_tokens: 300,
      response_format: { type: "json_schema", json_schema: { name: `s${k}`, strict: true, schema: schemas[k] } } });
    assert.equal(r.choices[0].finish_reason, "stop", `seed ${seed}: the constrained answer ends by itself`);
    const value = JSON.parse(r.choices[0].message.content);
    assert.ok(validators[k](value), `seed ${seed} schema ${k}: ${ajv.errorsText(validators[k].errors)} in ${r.choices[0].message.content}`);
  }
}));

test("unsupported schema keywords are a 400 naming them", gated(missing, async () => {
  await assert.rejects(
    client.chat.completions.create({ model: "tiny", messages: [user],
      response_format: { type: "json_schema", json_schema: { name: "p", schema: { type: "string", pattern: "^a" } } } }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === "response_format.json_schema.schema" && /'pattern'/.test(e.message));
}));

test("logprobs and top_logprobs, plain and streamed", gated(missing, async () => {
  const body = { model: "tiny", messages: [user], temperature: 0, max_tokens: 8, logprobs: true, top_logprobs: 2 };
  const r = await client.chat.completions.create(body);
  const content = r.choices[0].logprobs.content;
  assert.equal(content.length, r.usage.completion_tokens);
  for (const t of content) {
    assert.equal(typeof t.token, "string");
    assert.ok(t.logprob <= 0);
    assert.ok(Array.isArray(t.bytes) && t.bytes.length > 0 && t.bytes.every((b) => Number.isInteger(b) && b >= 0 && b < 256));
    assert.equal(t.top_logprobs.length, 2);
    assert.ok(t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob);
  }
  const stream = await client.chat.completions.create({ ...body, stream: true });
  const streamed = [];
  for await (const chunk of stream) for (const c of chunk.choices) streamed.push(...(c.logprobs?.content ?? []));
  assert.deepEqual(streamed.map((t) => t.token), content.map((t) => t.token));

  const comp = await client.completions.create({ model: "tiny", prompt: "The sea", max_tokens: 5, temperature: 0, logprobs: 2 });
  assert.equal(comp.choices[0].logprobs.tokens.length, comp.usage.completion_tokens);
  assert.equal(comp.choices[0].logprobs.top_logprobs.length, comp.usage.completion_tokens);
}));
