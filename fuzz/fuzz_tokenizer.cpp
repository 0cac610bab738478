// libFuzzer target for the tokenizer: encode/decode round trip on a byte-level BPE built in code,
// streaming decoding of arbitrary ids, and tokenizer.json parsing of arbitrary bytes.
// First input byte picks the mode; the rest is the payload. Invariants are checked with abort().
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "text/tokenizer/tokenizer.h"
#include "text/tokenizer/unicode.h"

namespace {

using lp::text::Tokenizer;

// GPT-2 byte alphabet, a few merges (ASCII words, a whitespace run), two special tokens, Qwen2 regex, no
// normalizer: for such a tokenizer decode(encode(x)) must equal from_utf8_lossy(x).
const Tokenizer& byte_level() {
  static Tokenizer t = [] {
    using nlohmann::json;
    json vocab = json::object();
    const auto& table = lp::text::uni::byte_to_chars();
    for (int b = 0; b < 256; ++b) vocab[table[b]] = b;
    std::vector<std::string> merges = {"t h", "th e", "\xC4\xA0 t", "\xC4\xA0t he", "i n", "\xC4\xA0 \xC4\xA0", "e r"};
    int id = 256;
    for (const auto& m : merges) {
      auto sp = m.find(' ');
      vocab[m.substr(0, sp) + m.substr(sp + 1)] = id++;
    }
    json added = json::array({{{"id", id}, {"content", "<|s|>"}, {"special", true}, {"normalized", false}},
                              {{"id", id + 1}, {"content", "<u>"}, {"special", false}, {"normalized", false},
                               {"lstrip", true}, {"rstrip", true}}});
    json j = {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}},
              {"pre_tokenizer",
               {{"type", "Sequence"},
                {"pretokenizers",
                 {{{"type", "Split"},
                   {"pattern",
                    {{"Regex",
                      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}}},
                   {"behavior", "Isolated"}},
                  {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}}},
              {"decoder", {{"type", "ByteLevel"}}},
              {"added_tokens", added}};
    return Tokenizer::from_hf_json(j.dump(), {}, "fuzz.json");
  }();
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0] % 3;
  std::string_view payload(reinterpret_cast<const char*>(data + 1), size - 1);
  const Tokenizer& tok = byte_level();
  if (mode == 0) {
    lp::text::EncodeOptions o;
    o.parse_special = false;  // the lstrip/rstrip <u> token still eats whitespace, so skip the check when present
    auto ids = tok.encode(payload, o);
    if (payload.find("<u>") == std::string_view::npos && tok.decode(ids) != lp::text::utf8_lossy(payload)) abort();
    (void)tok.encode(payload);
  } else if (mode == 1) {
    std::vector<lp::text::TokenId> ids;
    for (size_t i = 0; i + 1 < payload.size(); i += 2)
      ids.push_back(static_cast<lp::text::TokenId>(static_cast<uint8_t>(payload[i]) |
                                                   (static_cast<uint8_t>(payload[i + 1]) & 0x01) << 8));
    lp::text::StreamingDecoder sd(tok, true);
    std::string streamed;
    for (auto id : ids) {
      std::string part = sd.push(id);
      if (lp::text::utf8_lossy(part) != part) abort();  // never half a character
      streamed += part;
    }
    streamed += sd.flush();
    if (streamed != tok.decode(ids, true)) abort();
  } else {
    try {
      auto t = Tokenizer::from_hf_json(payload, {}, "fuzz-input.json");
      auto ids = t.encode("Hello <|s|> world 123");
      (void)t.decode(ids);
    } catch (const lp::Error&) {
    }
  }
  return 0;
}
