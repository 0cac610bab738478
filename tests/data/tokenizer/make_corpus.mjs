// Writes corpus.txt: hand-written edge cases plus deterministic pseudo-random mixtures of many scripts,
// emoji (incl. ZWJ sequences), code, whitespace runs, digits, contractions and special tokens.
// Usage: node make_corpus.mjs [out=corpus.txt]. Same output on every run (seeded PRNG).
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const handWritten = [
  "Hello world",
  "Hello, world! It's a test. I'm sure you'll see we've done what they'd said.",
  "IT'S LOUD. YOU'LL SEE. WE'VE GOT IT. SHE'D KNOW. I'M HERE. THEY'RE OFF.",
  "don't won't can't shouldn't y'all o'clock rock'n'roll",
  "   leading spaces and trailing spaces   ",
  "tabs\tinside\t\tthe\t\t\tline\t",
  "multiple     spaces          between     words",
  "CRLF line ending\r",
  "only a carriage\rreturn inside",
  "1 12 123 1234 12345 123456 1234567 12345678901234567890",
  "3.14159 2,718 1e10 -42 +7 0x1F 0b1010 1_000_000 ½ ¾ ² ³ ١٢٣ ४५६ 一二三",
  "Phone: +1 (555) 123-4567, date 2024-01-31T12:34:56Z",
  "<|im_start|>user\\nHello<|im_end|>",
  "<|im_start|>system You are helpful.<|im_end|><|im_start|>assistant",
  "<start_of_turn>user Hi there<end_of_turn> <start_of_turn>model",
  "text<|endoftext|>more text <|endoftext|> spaced",
  "<bos>text after bos <eos> and eos <pad> pad",
  "not special: <|im_start |> < |im_end|> <start_of_turn",
  "<b>bold</b> <i>italic</i> <div class=\"x\">html</div> <br/>",
  "Ünïcödé çåsès: naïve café résumé façade jalapeño",
  "e\u0301 a\u0300 o\u0308 n\u0303 — combining marks that NFC composes",
  "A\u030A Å Å (three forms of A-ring)",
  "\u1E9B\u0323 compatibility: ﬁ ﬂ ﬀ ㎏ ① ｆｕｌｌｗｉｄｔｈ",
  "Ελληνικά: Καλημέρα κόσμε, τι κάνεις; ΣΊΣΥΦΟΣ σίσυφος",
  "Русский: Привет, мир! Съешь же ещё этих мягких французских булок.",
  "Українська: Ґанок, їжак, єнот. Беларуская: Ўсё добра.",
  "العربية: مرحبا بالعالم! كيف حالك؟ ١٢٣٤",
  "עברית: שלום עולם! מה שלומך?",
  "हिन्दी: नमस्ते दुनिया! आप कैसे हैं? क्षत्रिय",
  "中文：你好，世界！今天天气很好。我们去公园吧。",
  "日本語：こんにちは世界！カタカナとひらがな、漢字。ｶﾀｶﾅ",
  "한국어: 안녕하세요 세계! 잘 지내세요? 한글 자모 ㄱㄴㄷ",
  "ไทย: สวัสดีชาวโลก ภาษาไทยไม่มีช่องว่างระหว่างคำ",
  "Tiếng Việt: Xin chào thế giới! Đây là tiếng Việt.",
  "Türkçe: İstanbul ılık, ŞEHİR. Deutsch: Straße, Maß, GROẞ.",
  "Emoji: 😀😃😄 👍🏽 👩‍💻 👨‍👩‍👧‍👦 🏳️‍🌈 🇫🇷🇯🇵 ❤️ ✨",
  "ZWJ: 🧑‍🤝‍🧑 👁️‍🗨️ 🐻‍❄️ and keycaps 1️⃣ #️⃣",
  "def f(x):\\n    return x ** 2  # square",
  "    if (a && b || !c) { return arr[i++]; } // C-like",
  "fn main() { let v: Vec<u8> = vec![1, 2, 3]; println!(\"{:?}\", v); }",
  "const add = (a, b) => a + b; console.log(`sum=${add(1, 2)}`);",
  "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;",
  "#include <stdio.h>\tint main(void){printf(\"%d\\n\", 42);}",
  "<?php echo $x['key'] ?? 'default'; ?>",
  "    \t    mixed\t \t whitespace \t",
  "trailing newline chars \u00a0nbsp\u2009thin\u3000ideographic",
  "punctuation!!! ??? ... --- ___ *** ### @@@ $$$ %%% ^^^ &&& ((( ))) [[[ ]]] {{{ }}}",
  "URL: https://example.com/path?query=1&b=2#frag mail: a.b@c.de",
  "snake_case camelCase PascalCase kebab-case SCREAMING_CASE",
  "a",
  " ",
  "  ",
  "\t",
  "x\u200by zero width space, soft\u00adhyphen, word\u2060joiner",
  "▁ literal sentencepiece marks ▁▁ in text ▁x",
  "Mixed: Hello мир 世界 🌍 مرحبا 123 'quoted' \"double\"",
  "'s 't 're 've 'm 'll 'd at start",
  "LOL'S HE'LL SHE'S  'S 'T",
];

const fragments = {
  latin: ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "Lorem", "ipsum", "dolor", "sit", "amet",
          "über", "naïve", "señor", "garçon", "Ærø", "ŁÓDŹ", "ħ", "ß", "can't", "it's", "we'll", "they've", "I'd"],
  cyrillic: ["привет", "мир", "Москва", "ёжик", "съешь", "ЩИ", "україна", "Ђорђе"],
  greek: ["αλφα", "βήτα", "Γάμμα", "ΔΈΛΤΑ", "ωμέγα", "ς", "ΐ"],
  arabic: ["سلام", "العالم", "كتاب", "مدرسة", "٣٤٥", "ﷺ"],
  hebrew: ["שלום", "עולם", "ספר", "בְּרֵאשִׁית"],
  devanagari: ["नमस्ते", "भारत", "क्षत्रिय", "हिन्दी", "१२३"],
  cjk: ["你好", "世界", "中华人民共和国", "東京", "ひらがな", "カタカナ", "漢字", "。", "、", "「引用」"],
  thai: ["สวัสดี", "ภาษาไทย", "กรุงเทพ"],
  korean: ["안녕", "세계", "한국어", "서울특별시"],
  emoji: ["😀", "🎉", "👍🏿", "👩‍🔬", "👨‍👩‍👦", "🏴‍☠️", "🇩🇪", "❤️‍🔥", "🤷‍♀️", "🦄"],
  code: ["{", "}", "();", "=>", "!=", "===", "<<", ">>=", "::", "->", "/*", "*/", "//", "#!", "${x}", "[0]", "\\n", "\\t"],
  digits: ["0", "7", "42", "365", "2024", "65536", "3.14", "1,000,000", "007", "99999999"],
  specials: ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>"],
  combining: ["e\u0301", "a\u0308", "n\u0303", "o\u0302\u0323", "\u0301", "c\u0327"],
  punct: [".", ",", "!", "?", ";", ":", "—", "–", "…", "«", "»", "„", "“", "”", "‘", "’", "(", ")", "'"],
};
const seps = [" ", " ", " ", " ", "", "  ", "\t", "   ", "    ", " \t ", "\u00a0", "          "];

let state = 0x12345678;
function rand() {  // xorshift32: deterministic across node versions
  state ^= state << 13; state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5; state >>>= 0;
  return state / 0x100000000;
}
const pick = (arr) => arr[Math.floor(rand() * arr.length)];

const kinds = Object.keys(fragments);
const lines = [...handWritten];
while (lines.length < 2400) {
  const focus = pick(kinds);
  const n = 1 + Math.floor(rand() * 24);
  let line = rand() < 0.1 ? pick(seps) : "";
  for (let i = 0; i < n; i++) {
    const kind = rand() < 0.6 ? focus : pick(kinds);
    line += pick(fragments[kind]);
    line += pick(seps);
  }
  if (rand() < 0.05) line += "\r";
  if (rand() < 0.03) line = line.repeat(1 + Math.floor(rand() * 8));
  lines.push(line);
}

const out = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), "corpus.txt");
writeFileSync(out, lines.join("\n") + "\n");
console.log(`wrote ${lines.length} lines to ${out}`);
