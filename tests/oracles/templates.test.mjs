// Peer test: every chat template in tests/data/templates × every conversation in
// conversations.json is rendered by @huggingface/jinja (the JS port of transformers' chat templating)
// and by `llama-pajamas-run template --batch`; outputs must be byte-identical, and where one raises
// (e.g. Gemma's role-alternation check) the other must raise too.
// When python3 with jinja2 is installed, the same matrix is also rendered by jinja2 configured exactly
// as transformers' apply_chat_template configures it (ImmutableSandboxedEnvironment, trim_blocks,
// lstrip_blocks, loopcontrols, {% generation %}, tojson/raise_exception/strftime_now), which is the
// reference where @huggingface/jinja itself departs from Python semantics (KNOWN_JS_PEER_DEVIATIONS).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Template } from "@huggingface/jinja";
import { gated, firstReason } from "./lib/require.mjs";

const SOURCE = process.env.LP_SOURCE_DIR ?? path.resolve(import.meta.dirname, "../..");
const BUILD = process.env.LP_BUILD_DIR ?? path.join(SOURCE, "build");
const FIXTURES = process.env.LP_SHARED_FIXTURES ?? path.join(SOURCE, "../shared/fixtures");
const RUN = path.join(BUILD, "apps", "llama-pajamas-run");
const DATA = path.join(SOURCE, "tests", "data", "templates");

// Special tokens each model family's tokenizer_config.json provides.
const TEMPLATES = [
  { file: "chatml.jinja", tokens: { eos_token: "<|im_end|>" } },
  { file: "qwen3.jinja", tokens: { eos_token: "<|im_end|>" } },
  { file: "gemma3.jinja", tokens: { bos_token: "<bos>", eos_token: "<eos>" } },
  { file: "meta-llama-Llama-3.1-8B-Instruct.jinja", tokens: { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" } },
  { file: "mistralai-Mistral-Nemo-Instruct-2407.jinja", tokens: { bos_token: "<s>", eos_token: "</s>" } },
  { file: "openai-gpt-oss-120b.jinja", tokens: { bos_token: "<|startoftext|>", eos_token: "<|return|>" } },
];

// strftime_now(fmt) is builtin on both sides (transformers: datetime.now().strftime, local time).
// Cases where @huggingface/jinja 0.5.11 is not faithful to Python jinja2 (checked against jinja2 below).
const KNOWN_JS_PEER_DEVIATIONS = new Map([
  ["chatml.jinja × gemma-content-parts", "str + list: Python raises TypeError, the JS port concatenates"],
  ["mistralai-Mistral-Nemo-Instruct-2407.jinja × gemma-content-parts", "str + list: Python raises TypeError"],
  ["openai-gpt-oss-120b.jinja × gemma-content-parts", "str + list: Python raises TypeError"],
  ["meta-llama-Llama-3.1-8B-Instruct.jinja × gptoss-options", "the JS port has no `reject` filter"],
  ["meta-llama-Llama-3.1-8B-Instruct.jinja × llama-builtin-tools", "the JS port has no `reject` filter"],
  ["meta-llama-Llama-3.1-8B-Instruct.jinja × gemma-content-parts", "`trim` of a list: jinja2 trims str(list), the JS port raises"],
]);

// transformers' chat-template environment, rebuilt with the installed jinja2.
const TRANSFORMERS_JINJA = `
import json, sys
from datetime import datetime
import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

class GenerationTag(Extension):
    tags = {"generation"}
    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)
    def _render(self, caller):
        return caller()

def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)

def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
results = []
cache = {}
for job in json.load(open(sys.argv[1], encoding="utf-8")):
    try:
        if "template" in job:
            tmpl = env.from_string(job["template"])
        else:
            path = job["template_path"]
            if path not in cache:
                cache[path] = env.from_string(open(path, encoding="utf-8").read())
            tmpl = cache[path]
        results.append({"output": tmpl.render(**job["context"])})
    except Exception as e:
        results.append({"error": type(e).__name__ + ": " + str(e)})
sys.stdout.write(json.dumps(results, ensure_ascii=False))
`;

const HAVE_PY_JINJA = spawnSync("python3", ["-c", "import jinja2"]).status === 0;

function contextFor(conv, tokens) {
  return { messages: conv.messages, tools: conv.tools ?? null, add_generation_prompt: conv.add_generation_prompt,
    ...tokens, ...(conv.extra ?? {}) };
}

function renderPeer(source, context) {
  try {
    return { output: new Template(source).render(context) };
  } catch (e) {
    return { error: String(e.message ?? e) };
  }
}

function runBatch(jobs, command) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lp-templates-"));
  const file = path.join(dir, "jobs.json");
  fs.writeFileSync(file, JSON.stringify(jobs));
  try {
    const [exe, ...args] = command(file);
    return JSON.parse(execFileSync(exe, args, { encoding: "utf8", maxBuffer: 1 << 28 }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
const ours = (file) => [RUN, "template", "--batch", file];
const transformersJinja = (file) => ["python3", "-c", TRANSFORMERS_JINJA, file];

// Further real templates (tests/data/templates/extra), checked against jinja2 only: the JS port
// cannot run several of them.
const EXTRA_TEMPLATES = fs.readdirSync(path.join(DATA, "extra")).filter((f) => f.endsWith(".jinja")).sort()
  .map((f) => ({ file: path.join("extra", f), tokens: { bos_token: "<s>", eos_token: "</s>" } }));

function buildMatrix(templates = TEMPLATES) {
  const jobs = [];
  const labels = [];
  for (const t of templates) {
    const templatePath = path.join(DATA, t.file);
    for (const conv of conversations) {
      jobs.push({ template_path: templatePath, context: contextFor(conv, t.tokens) });
      labels.push(`${t.file} × ${conv.name}`);
    }
  }
  return { jobs, labels };
}

// Both rendered identically, or both raised.
function compare(label, reference, mine, failures, counts) {
  if (reference.error !== undefined || mine.error !== undefined) {
    if (reference.error === undefined || mine.error === undefined)
      failures.push(`${label}: reference ${reference.error !== undefined ? "raised: " + reference.error : "rendered"}, ` +
        `ours ${mine.error !== undefined ? "raised: " + mine.error : "rendered"}`);
    else if (reference.error.startsWith("TemplateError: ") && !mine.error.includes(reference.error.slice(15)))
      failures.push(`${label}: raise_exception message differs: reference ${reference.error}, ours ${mine.error}`);
    else counts.raised++;
  } else if (reference.output !== mine.output) {
    failures.push(`${label}: output differs\n--- reference\n${JSON.stringify(reference.output)}\n--- ours\n${JSON.stringify(mine.output)}`);
  } else {
    counts.rendered++;
  }
}

const conversations = JSON.parse(fs.readFileSync(path.join(DATA, "conversations.json"), "utf8"));

test("conversation set is large enough", () => {
  assert.ok(conversations.length >= 20, `only ${conversations.length} conversations`);
});

test("chat templates render byte-identically to @huggingface/jinja", gated(!fs.existsSync(RUN) && `missing ${RUN}`, () => {
  const { jobs, labels } = buildMatrix();
  const mine = runBatch(jobs, ours);
  assert.equal(mine.length, jobs.length);
  const failures = [];
  const counts = { rendered: 0, raised: 0 };
  let skipped = 0;
  for (let i = 0; i < jobs.length; i++) {
    if (KNOWN_JS_PEER_DEVIATIONS.has(labels[i])) {
      skipped++;
      continue;
    }
    const source = fs.readFileSync(jobs[i].template_path, "utf8");
    compare(labels[i], renderPeer(source, jobs[i].context), mine[i], failures, counts);
  }
  console.log(`@huggingface/jinja: ${counts.rendered} identical renders, ${counts.raised} raised on both sides, ` +
    `${skipped} known JS-port deviations, ${failures.length} mismatches`);
  assert.deepEqual(failures.slice(0, 12), [], `${failures.length} mismatches`);
  assert.ok(counts.rendered >= 100, `only ${counts.rendered} identical renders`);
}));

test("chat templates render byte-identically to jinja2 as transformers configures it",
  gated(firstReason(!fs.existsSync(RUN) && `missing ${RUN}`, !HAVE_PY_JINJA && "python3 jinja2 not installed (Debian python3-jinja2)"), () => {
  const { jobs, labels } = buildMatrix([...TEMPLATES, ...EXTRA_TEMPLATES]);
  const mine = runBatch(jobs, ours);
  const reference = runBatch(jobs, transformersJinja);
  assert.equal(reference.length, jobs.length);
  const failures = [];
  const counts = { rendered: 0, raised: 0 };
  for (let i = 0; i < jobs.length; i++) compare(labels[i], reference[i], mine[i], failures, counts);
  console.log(`jinja2 (transformers env): ${counts.rendered} identical renders, ${counts.raised} raised on both sides, ` +
    `${failures.length} mismatches`);
  assert.deepEqual(failures.slice(0, 12), [], `${failures.length} mismatches`);
  for (const label of KNOWN_JS_PEER_DEVIATIONS.keys()) assert.ok(labels.includes(label), `stale deviation entry ${label}`);
  assert.ok(counts.rendered >= 500, `only ${counts.rendered} identical renders`);
}));

test("feature cases: stored expectations are jinja2's, and we match them",
  gated(firstReason(!fs.existsSync(RUN) && `missing ${RUN}`, !HAVE_PY_JINJA && "python3 jinja2 not installed (Debian python3-jinja2)"), () => {
  const cases = JSON.parse(fs.readFileSync(path.join(DATA, "features.json"), "utf8"));
  const jobs = cases.map((c) => ({ template: c.template, context: c.context }));
  const reference = runBatch(jobs, transformersJinja);
  const mine = runBatch(jobs, ours);
  const failures = [];
  const counts = { rendered: 0, raised: 0 };
  cases.forEach((c, i) => {
    const stored = c.expected !== undefined ? { output: c.expected } : { error: c.error };
    if (JSON.stringify(stored) !== JSON.stringify(reference[i])) failures.push(`${c.name}: features.json is stale: jinja2 gives ${JSON.stringify(reference[i])}`);
    compare(c.name, reference[i], mine[i], failures, counts);
  });
  console.log(`feature cases: ${counts.rendered} identical renders, ${counts.raised} raised on both sides, ${failures.length} failures`);
  assert.deepEqual(failures, []);
}));

// Random expressions over the Python semantics the interpreter has to copy (operators on mixed
// types, filters, tests, methods, undefined). Seeded, so a failure reproduces.
function randomExpressionCases(seed, count) {
  let state = seed >>> 0;
  const rand = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 4294967296);
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  const atoms = ["1", "2", "0", "-3", "2.5", "0.1", "'a'", "'héllo'", "''", "'A b'", "none", "true", "false", "[1, 2, 3]",
    "['x', 'y']", "[]", "{'k': 1, 'j': 'v'}", "{}", "(1, 'b')", "s", "n", "f", "l", "d", "u", "m.role", "m.content",
    "m['role']", "l[0]", "l[-1]", "s[1:]", "s[::-1]", "l[1:]"];
  const filters = ["length", "upper", "lower", "trim", "first", "last", "list", "string", "int", "float", "abs", "round",
    "tojson", "title", "capitalize", "default('D')", "join(',')", "sort", "unique|list", "reverse|list", "select|list",
    "map('string')|list", "items|list", "dictsort", "sum", "max", "min", "indent(2)", "replace('a', 'b')", "count",
    "batch(2)|list", "e", "safe"];
  const tests = ["defined", "undefined", "none", "string", "number", "integer", "float", "mapping", "iterable", "sequence",
    "boolean", "odd", "even", "true", "false", "lower", "upper"];
  const ops = ["+", "-", "*", "/", "//", "%", "~", "==", "!=", "<", ">", "<=", ">=", "in", "not in", "and", "or"];
  const methods = [".upper()", ".lower()", ".strip()", ".split()", ".startswith('a')", ".endswith('o')",
    ".replace('l', 'L')", ".title()", ".find('l')", ".count('l')", ".items()|list", ".keys()|list", ".values()|list",
    ".get('k')", ".get('zz', 5)"];
  const expr = (depth) => {
    const r = rand();
    if (depth > 2 || r < 0.3) return pick(atoms);
    if (r < 0.5) return `(${expr(depth + 1)} ${pick(ops)} ${expr(depth + 1)})`;
    if (r < 0.65) return `(${expr(depth + 1)})|${pick(filters)}`;
    if (r < 0.75) return `(${expr(depth + 1)} is ${rand() < 0.3 ? "not " : ""}${pick(tests)})`;
    if (r < 0.85) return `(${expr(depth + 1)})${pick(methods)}`;
    if (r < 0.92) return `(${expr(depth + 1)} if ${expr(depth + 1)} else ${expr(depth + 1)})`;
    return `(not ${expr(depth + 1)})`;
  };
  const context = { s: "hello", n: 7, f: 1.5, l: [3, 1, 2], d: { b: 2, a: 1 }, m: { role: "user", content: "Hi ü" } };
  return Array.from({ length: count }, () => ({ template: `{{ ${expr(0)} }}`, context }));
}

test("random expressions evaluate like jinja2",
  gated(firstReason(!fs.existsSync(RUN) && `missing ${RUN}`, !HAVE_PY_JINJA && "python3 jinja2 not installed (Debian python3-jinja2)"), () => {
  const jobs = randomExpressionCases(20261127, 3000);
  const reference = runBatch(jobs, transformersJinja);
  const mine = runBatch(jobs, ours);
  const failures = [];
  const counts = { rendered: 0, raised: 0 };
  jobs.forEach((job, i) => compare(job.template, reference[i], mine[i], failures, counts));
  console.log(`random expressions: ${counts.rendered} identical, ${counts.raised} raised on both sides, ${failures.length} mismatches`);
  assert.deepEqual(failures.slice(0, 12), [], `${failures.length} mismatches`);
}));

test("template command reads a model folder's tokenizer_config.json", gated(firstReason(!fs.existsSync(RUN) && `missing ${RUN}`,
  !fs.existsSync(path.join(FIXTURES, "tiny-qwen3")) && `fixture tiny-qwen3 missing (${path.join(FIXTURES, "tiny-qwen3")})`), () => {
  const model = path.join(FIXTURES, "tiny-qwen3");
  const config = JSON.parse(fs.readFileSync(path.join(model, "tokenizer_config.json"), "utf8"));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lp-template-cli-"));
  try {
    const conv = conversations.find((c) => c.name === "multi-turn");
    fs.writeFileSync(path.join(dir, "messages.json"), JSON.stringify(conv.messages));
    const out = execFileSync(RUN, ["template", "--model", model, "--messages", path.join(dir, "messages.json"),
      "--add-generation-prompt"], { encoding: "utf8" });
    const peer = new Template(config.chat_template).render({ messages: conv.messages, tools: null, add_generation_prompt: true,
      eos_token: typeof config.eos_token === "string" ? config.eos_token : config.eos_token?.content });
    assert.equal(out, peer);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}));
