// Tokenizers that reproduce Hugging Face `tokenizers` exactly: byte-level BPE (GPT-2, Llama-3, Qwen2/3,
// GPT-OSS o200k) and SentencePiece-style BPE with byte fallback (Gemma 3, Llama-2, Mistral), plus the
// llama.cpp SPM tokenizer (merge by score) for GGUF files with tokenizer.ggml.model = "llama".
// One in-memory model (TokenizerModelData) is filled from tokenizer.json (+ tokenizer_config.json) or from
// GGUF metadata; Tokenizer compiles it (regexes, merge tables) and encodes/decodes. See docs/TOKENIZERS.md.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "formats/gguf_value.h"

namespace lp::formats {
class GgufFile;
}

namespace lp::text {

using TokenId = int32_t;

// GGUF token types (llama.cpp llama_token_type).
enum class TokenType : int32_t { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

enum class ModelKind {
  Bpe,  // HF BPE: merges by rank (byte-level or with byte_fallback)
  Spm,  // llama.cpp SPM: bigram merges by score, byte fallback (GGUF "llama")
};

struct AddedToken {
  std::string content;
  TokenId id = -1;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool single_word = false;
};

// One step of a normalizer / pre-tokenizer / decoder pipeline, in tokenizer.json terms.
struct NormalizerStep {
  enum class Kind { Nfc, Nfkc, Nfd, Nfkd, Lowercase, Prepend, Replace, Strip } kind = Kind::Nfc;
  std::string pattern;      // Replace: literal (or regex when is_regex)
  bool is_regex = false;
  std::string content;      // Replace: replacement; Prepend: prefix
  bool strip_left = false, strip_right = false;
};

struct PreTokenizerStep {
  enum class Kind { Split, ByteLevel, Digits, Metaspace, Whitespace, WhitespaceSplit, Punctuation } kind = Kind::Split;
  enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };
  std::string pattern;      // Split: regex (is_regex) or literal string
  bool is_regex = true;
  Behavior behavior = Behavior::Isolated;
  bool invert = false;
  bool add_prefix_space = false;  // ByteLevel
  bool use_regex = true;          // ByteLevel: apply the GPT-2 regex
  bool individual_digits = false; // Digits
  std::string replacement = "\xE2\x96\x81";  // Metaspace "▁"
  std::string prepend_scheme = "always";       // Metaspace: always | first | never
  bool split = true;                           // Metaspace
};

struct DecoderStep {
  enum class Kind { ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace } kind = Kind::ByteLevel;
  std::string pattern, content;      // Replace
  int strip_start = 0, strip_stop = 0;  // Strip (content char)
  std::string replacement = "\xE2\x96\x81";  // Metaspace
  bool prepend = true;                          // Metaspace: drop the leading space of the first token
};

// Everything a tokenizer is, independent of where it was loaded from.
struct TokenizerModelData {
  ModelKind kind = ModelKind::Bpe;
  std::vector<std::string> tokens;     // id -> token text as stored in the vocab (byte-level chars / ▁ pieces)
  std::vector<float> scores;           // SPM only (may be empty for BPE)
  std::vector<TokenType> token_types;  // id -> type (filled for every id after loading)
  std::vector<std::pair<std::string, std::string>> merges;  // BPE, rank order
  bool byte_level = false;             // vocab uses the GPT-2 byte->char mapping
  bool byte_fallback = false;          // <0xXX> tokens for unknown chars
  bool ignore_merges = false;          // whole pre-token in vocab wins (Llama-3)
  bool fuse_unk = false;
  std::optional<TokenId> unk_id;
  std::vector<AddedToken> added_tokens;
  std::vector<NormalizerStep> normalizers;
  std::vector<PreTokenizerStep> pre_tokenizers;
  std::vector<DecoderStep> decoders;
  std::optional<TokenId> bos_id, eos_id, pad_id;
  bool add_bos = false, add_eos = false;
  std::string chat_template;
  std::string gguf_pre;  // llama.cpp pre-tokenizer name when loaded from GGUF ("qwen2", "llama-bpe", ...)
  std::string source;    // file the model came from, for error messages
};

struct EncodeOptions {
  bool add_special = true;    // add BOS/EOS as the post-processor / config says
  bool parse_special = true;  // special/added tokens written in the text become their ids (transformers default)
};

class Tokenizer {
 public:
  // tokenizer.json (+ optional tokenizer_config.json next to it, or given explicitly).
  static Tokenizer from_hf(const std::filesystem::path& tokenizer_json,
                           const std::filesystem::path& tokenizer_config = {});
  // Parses in-memory JSON (tests, fuzzing); `name` is used in errors. config may be null.
  static Tokenizer from_hf_json(std::string_view tokenizer_json, std::string_view tokenizer_config = {},
                                std::string name = "tokenizer.json");
  static Tokenizer from_gguf(const formats::GgufFile& gguf);
  static Tokenizer from_data(TokenizerModelData data);
  // A model folder (tokenizer.json) or a .gguf file.
  static Tokenizer load(const std::filesystem::path& model);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  std::vector<TokenId> encode(std::string_view text, const EncodeOptions& opt = {}) const;
  std::string decode(std::span<const TokenId> ids, bool skip_special = false) const;

  size_t vocab_size() const;
  const std::string& token_text(TokenId id) const;   // vocab string (throws on out-of-range id)
  std::optional<TokenId> find_token(std::string_view text) const;
  bool is_special(TokenId id) const;                  // control / special added token
  std::optional<TokenId> bos_id() const;
  std::optional<TokenId> eos_id() const;
  std::optional<TokenId> pad_id() const;
  // Tokens that end generation: eos plus the special end-of-turn tokens llama.cpp also stops on
  // (<|im_end|>, <|endoftext|>, <end_of_turn>, <|eot_id|>, <|return|>, <|call|>, ...) when present.
  std::vector<TokenId> end_of_generation_ids() const;
  const std::string& chat_template() const;
  const TokenizerModelData& data() const;

  // Raw bytes a token contributes to decoded output, ignoring context-dependent steps (leading-space strip).
  std::string token_bytes(TokenId id) const;
  // True when the decoder drops one leading space of the first decoded token (Llama-2 Strip / Metaspace).
  bool strips_leading_space() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Incremental decoding for generation: push ids one at a time, get text that never ends in half a
// UTF-8 character (bytes are held until the character completes; invalid bytes become U+FFFD).
class StreamingDecoder {
 public:
  explicit StreamingDecoder(const Tokenizer& tok, bool skip_special = true);
  std::string push(TokenId id);
  std::string flush();  // emits whatever is pending (incomplete bytes become U+FFFD)
  void reset();

 private:
  const Tokenizer* tok_;
  bool skip_special_;
  bool first_ = true;
  std::string pending_;
};

// ---- GGUF export (pipeline side), in formats' value type so text does not depend on the writer module ----
struct GgufMetaEntry {
  std::string key;
  formats::GgufValue value;  // string, uint32, bool, or an array of strings / int32 / float32
};
struct GgufTokenizerMeta {
  std::vector<GgufMetaEntry> entries;  // tokenizer.ggml.* and tokenizer.chat_template, in writing order
  std::vector<std::string> warnings;   // e.g. unknown pre-tokenizer regex set -> "default"
};
GgufTokenizerMeta gguf_tokenizer_metadata(const Tokenizer& tok);

// llama.cpp's tokenizer.ggml.pre name for the pre-tokenizer regex set of a (byte-level BPE) model,
// decided from the regexes themselves. Unknown sets give "default" and a warning text.
std::string detect_gguf_pre(const TokenizerModelData& data, std::string* warning = nullptr);
// The reverse: regexes llama.cpp uses for a tokenizer.ggml.pre name (empty when unknown).
std::vector<std::string> gguf_pre_regexes(std::string_view pre);

// Decodes bytes as UTF-8 the way Rust's String::from_utf8_lossy does (each maximal invalid subpart -> U+FFFD).
std::string utf8_lossy(std::string_view bytes);

}  // namespace lp::text
