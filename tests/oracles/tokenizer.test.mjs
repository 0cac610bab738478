// Peer test: our tokenizer (llama-pajamas-run tokenize) against @lenml's port of HF tokenizers, line by line
// over tests/data/tokenizer/corpus.txt (Qwen3 and Gemma 3 tokenizer.json) and the fixtures' heldout.txt.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { TokenizerLoader } from "@lenml/tokenizers";
import { missingCases } from "./lib/require.mjs";

const SRC = process.env.LP_SOURCE_DIR ?? join(import.meta.dirname, "..", "..");
const BUILD = process.env.LP_BUILD_DIR ?? join(SRC, "build");
const FIXTURES = process.env.LP_SHARED_FIXTURES ?? join(SRC, "..", "shared", "fixtures");
const RUN = join(BUILD, "apps", "llama-pajamas-run");
const DATA = join(SRC, "tests", "data", "tokenizer");

function readLines(file) {
  const text = readFileSync(file, "utf8");
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

function ours(modelDir, file) {
  const out = execFileSync(RUN, ["tokenize", "--model", modelDir, "--file", file, "--lines", "--roundtrip"], {
    maxBuffer: 1 << 28, encoding: "utf8",
  });
  return out.split("\n").filter((l) => l.length).map((l) => JSON.parse(l));
}

function loadPeer(dir) {
  const tokenizerJSON = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
  const cfgPath = join(dir, "tokenizer_config.json");
  const tokenizerConfig = existsSync(cfgPath) ? JSON.parse(readFileSync(cfgPath, "utf8")) : {};
  return TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });
}

// Compares every line; reports the first few mismatches with context instead of stopping at the first.
function compare(name, modelDir, file) {
  const peer = loadPeer(modelDir);
  const lines = readLines(file);
  const got = ours(modelDir, file);
  assert.equal(got.length, lines.length, `${name}: one output per input line`);
  const bad = [];
  let tokens = 0;
  for (let i = 0; i < lines.length; i++) {
    const want = Array.from(peer.encode(lines[i]));
    tokens += want.length;
    const g = got[i];
    if (JSON.stringify(g.ids) !== JSON.stringify(want)) {
      bad.push(`line ${i + 1} encode ${JSON.stringify(lines[i]).slice(0, 120)}\n  ours ${JSON.stringify(g.ids).slice(0, 200)}\n  peer ${JSON.stringify(want).slice(0, 200)}`);
      continue;
    }
    const dec = peer.decode(want, { skip_special_tokens: false });
    const decSkip = peer.decode(want, { skip_special_tokens: true });
    if (g.decoded !== dec) bad.push(`line ${i + 1} decode\n  ours ${JSON.stringify(g.decoded)}\n  peer ${JSON.stringify(dec)}`);
    else if (g.decoded_skip_special !== decSkip)
      bad.push(`line ${i + 1} decode(skip_special)\n  ours ${JSON.stringify(g.decoded_skip_special)}\n  peer ${JSON.stringify(decSkip)}`);
  }
  assert.ok(bad.length === 0, `${name}: ${bad.length}/${lines.length} lines differ (${tokens} tokens)\n${bad.slice(0, 8).join("\n")}`);
  return { lines: lines.length, tokens };
}

const corpus = join(DATA, "corpus.txt");
for (const model of ["qwen3", "gemma3"]) {
  test(`${model} tokenizer.json matches HF (@lenml) on corpus.txt`, () => {
    const r = compare(model, join(DATA, model), corpus);
    console.log(`${model}: ${r.lines} lines, ${r.tokens} tokens identical`);
  });
}

const heldout = join(FIXTURES, "heldout.txt");
const fixtureDirs = existsSync(FIXTURES)
  ? readdirSync(FIXTURES).filter((d) => existsSync(join(FIXTURES, d, "tokenizer.json")))
  : [];
for (const d of fixtureDirs) {
  test(`fixture ${d} tokenizer matches HF (@lenml) on heldout.txt and corpus.txt`, () => {
    const r1 = compare(d, join(FIXTURES, d), heldout);
    const r2 = compare(d, join(FIXTURES, d), corpus);
    console.log(`${d}: ${r1.lines + r2.lines} lines, ${r1.tokens + r2.tokens} tokens identical`);
  });
}
missingCases("fixture tokenizers match HF (@lenml) on heldout.txt and corpus.txt",
  fixtureDirs.length === 0 && `no shared fixture with a tokenizer.json in ${FIXTURES}`);
