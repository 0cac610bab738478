// Peer test: the tokenizer our converter writes into GGUF (tokenizer.ggml.*) tokenizes in llama.cpp exactly like
// the Hugging Face tokenizer it came from. A tiny qwen3 checkpoint gets the real Qwen3 tokenizer.json /
// tokenizer_config.json (tests/data/tokenizer/qwen3) and the real vocabulary size; llama.cpp's ids on every
// line of tests/data/tokenizer/corpus.txt (mixed scripts, numbers, code, whitespace, special tokens) must equal
// @lenml/tokenizers' ids (a port of HF tokenizers). Also: node-llama-cpp finds the chat template in the GGUF.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { TokenizerLoader } from "@lenml/tokenizers";
import { quantBin, sourceDir, skipUnless } from "./lib/paths.mjs";
import { tempDir, generateTiny, convertGguf } from "./lib/run.mjs";
import { llamaBatch, llamaUnavailable } from "./lib/llama.mjs";

const tokDir = path.join(sourceDir, "tests/data/tokenizer/qwen3");
const corpus = path.join(sourceDir, "tests/data/tokenizer/corpus.txt");
const skip = skipUnless(quantBin, path.join(tokDir, "tokenizer.json"), corpus) || llamaUnavailable();

function readLines(file) {
  const lines = fs.readFileSync(file, "utf8").split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

// tiny qwen3 body, real Qwen3 tokenizer files and vocabulary size (151936 rows, as Qwen3 ships).
function qwen3WithRealTokenizer(dir) {
  const model = generateTiny("qwen3", path.join(dir, "hf"), ["--vocab", "151936", "--hidden", "64", "--layers", "1",
    "--ffn", "128", "--heads", "2", "--kv-heads", "1", "--head-dim", "32"]);
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) fs.copyFileSync(path.join(tokDir, f), path.join(model, f));
  const cfgPath = path.join(model, "config.json");
  const cfg = JSON.parse(fs.readFileSync(cfgPath, "utf8"));
  const tcfg = JSON.parse(fs.readFileSync(path.join(tokDir, "tokenizer_config.json"), "utf8"));
  const added = Object.entries(tcfg.added_tokens_decoder ?? {});
  const id = (content) => Number(added.find(([, t]) => t.content === content)?.[0]);
  cfg.bos_token_id = id("<|endoftext|>");
  cfg.eos_token_id = id(tcfg.eos_token ?? "<|im_end|>");
  fs.writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
  return model;
}

test("llama.cpp tokenizes through our GGUF exactly like the HF Qwen3 tokenizer", { skip }, () => {
  const dir = tempDir("lp-gguf-tokenizer-");
  const model = qwen3WithRealTokenizer(dir);
  const [gguf] = convertGguf(model, path.join(dir, "out"), "q8_0");
  const lines = readLines(corpus);
  const history = [{ type: "system", text: "You are terse." }, { type: "user", text: "Hi there" }, { type: "model", response: ["Hello."] }];
  const [r] = llamaBatch([{ modelPath: gguf, jobs: [{ op: "tokenize", texts: lines, special: true }, { op: "chatWrapper", history }] }]);
  assert.ok(r.ok, r.error);
  const [{ ids }, chat] = r.results;

  const peer = TokenizerLoader.fromPreTrained({
    tokenizerJSON: JSON.parse(fs.readFileSync(path.join(tokDir, "tokenizer.json"), "utf8")),
    tokenizerConfig: JSON.parse(fs.readFileSync(path.join(tokDir, "tokenizer_config.json"), "utf8")),
  });
  const bad = [];
  let tokens = 0;
  lines.forEach((line, i) => {
    const want = Array.from(peer.encode(line));
    tokens += want.length;
    if (JSON.stringify(ids[i]) !== JSON.stringify(want))
      bad.push(`line ${i + 1} ${JSON.stringify(line).slice(0, 100)}\n  llama.cpp ${JSON.stringify(ids[i]).slice(0, 160)}\n  HF        ${JSON.stringify(want).slice(0, 160)}`);
  });
  console.log(`# ${lines.length} lines, ${tokens} tokens, ${bad.length} mismatching lines; chat wrapper: ${chat.wrapper}`);
  assert.equal(bad.length, 0, `${bad.length} of ${lines.length} lines differ:\n${bad.slice(0, 8).join("\n")}`);
  // The ChatML template reached llama.cpp: its rendering has Qwen's turn markers around our messages.
  assert.match(chat.text, /<\|im_start\|>user\s*\n?Hi there<\|im_end\|>/, chat.text);
});
