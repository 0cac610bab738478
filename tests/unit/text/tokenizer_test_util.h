// Helpers for tokenizer tests: small tokenizer.json documents built in code.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "text/tokenizer/tokenizer.h"
#include "text/tokenizer/unicode.h"

namespace lp::text::test {

using nlohmann::json;

// Byte-level BPE: the 256 byte symbols (ids 0..255) plus `extra` tokens, with `merges`.
inline json byte_level_json(const std::vector<std::string>& extra, const std::vector<std::string>& merges,
                            const std::string& split_regex = "") {
  json vocab = json::object();
  const auto& table = uni::byte_to_chars();
  for (int b = 0; b < 256; ++b) vocab[table[b]] = b;
  int id = 256;
  for (const auto& e : extra) vocab[e] = id++;
  json pre = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", split_regex.empty()}};
  if (!split_regex.empty())
    pre = {{"type", "Sequence"},
           {"pretokenizers",
            {{{"type", "Split"}, {"pattern", {{"Regex", split_regex}}}, {"behavior", "Isolated"}, {"invert", false}},
             {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  return {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}},
          {"pre_tokenizer", pre},
          {"decoder", {{"type", "ByteLevel"}}},
          {"added_tokens", json::array()}};
}

// SentencePiece-style BPE (Llama-2 layout): ▁ pieces, byte fallback, Prepend+Replace normalizer.
inline json spm_json(const std::vector<std::string>& pieces, const std::vector<std::string>& merges, bool prepend) {
  json vocab = json::object();
  vocab["<unk>"] = 0;
  vocab["<s>"] = 1;
  vocab["</s>"] = 2;
  int id = 3;
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    vocab[buf] = id++;
  }
  for (const auto& p : pieces) vocab[p] = id++;
  json norm = json::array();
  if (prepend) norm.push_back({{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}});
  norm.push_back({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}});
  json dec = {{"type", "Sequence"},
              {"decoders",
               {{{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
                {{"type", "ByteFallback"}},
                {{"type", "Fuse"}}}}};
  if (prepend) dec["decoders"].push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
  return {{"normalizer", {{"type", "Sequence"}, {"normalizers", norm}}},
          {"pre_tokenizer", nullptr},
          {"decoder", dec},
          {"post_processor",
           {{"type", "TemplateProcessing"},
            {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
            {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
          {"model",
           {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}, {"byte_fallback", true}, {"unk_token", "<unk>"},
            {"fuse_unk", true}}},
          {"added_tokens",
           {{{"id", 0}, {"content", "<unk>"}, {"special", true}, {"normalized", false}},
            {{"id", 1}, {"content", "<s>"}, {"special", true}, {"normalized", false}},
            {{"id", 2}, {"content", "</s>"}, {"special", true}, {"normalized", false}}}}};
}

inline Tokenizer make(const json& j, const json& cfg = nullptr) {
  return Tokenizer::from_hf_json(j.dump(), cfg.is_null() ? std::string() : cfg.dump(), "test.json");
}

inline std::vector<std::string> texts(const Tokenizer& t, const std::vector<TokenId>& ids) {
  std::vector<std::string> out;
  for (auto id : ids) out.push_back(t.token_text(id));
  return out;
}

}  // namespace lp::text::test
