// tokenizer.json / tokenizer_config.json for generated checkpoints: the embedded byte-level BPE base
// (src/testgen/data/tokenizers/bpe4096) truncated or padded to the requested vocabulary size, with each
// family's real special tokens, pre-tokenizer regex, BOS handling and chat template.
#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "testgen/embedded_data.h"
#include "testgen/families.h"
#include "testgen/generate.h"

namespace lp::testgen {
namespace {

using nlohmann::json;

constexpr int64_t kByteTokens = 256;

// Pre-tokenizer split patterns of the real releases.
constexpr const char* kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kO200kRegex =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct SpecialSpec {
  std::vector<std::string> tokens;
  bool first;  // at the start of the vocabulary (SentencePiece-era families) or at the end
};

SpecialSpec special_spec(Family f) {
  switch (f) {
    case Family::Llama:
      return {{"<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"},
              false};
    case Family::Mistral:
    case Family::Mixtral:
      return {{"<unk>", "<s>", "</s>", "[INST]", "[/INST]"}, true};
    case Family::Qwen2:
    case Family::Qwen3:
    case Family::Qwen3Moe:
    case Family::Qwen35:
    case Family::Qwen35Moe:
      return {{"<|endoftext|>", "<|im_start|>", "<|im_end|>"}, false};
    case Family::GptOss:
      return {{"<|startoftext|>", "<|endoftext|>", "<|return|>", "<|constrain|>", "<|channel|>", "<|start|>",
               "<|end|>", "<|message|>", "<|call|>"},
              false};
    case Family::Gemma3:
      return {{"<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"}, true};
    case Family::Gemma4:  // Gemma 4's turn markers, tool-call and channel tokens (ids as in the release's order)
      return {{"<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<|turn>", "<turn|>", "<|tool_call>", "<tool_call|>",
               "<|tool_response>", "<tool_response|>", "<|channel>", "<channel|>"},
              true};
  }
  return {};
}

const json& base_tokenizer() {
  static const json base = json::parse(bpe4096_tokenizer_json());
  return base;
}

int64_t base_merge_count() { return static_cast<int64_t>(base_tokenizer().at("model").at("merges").size()); }

std::string filler_token(int64_t k) { return fmt::format("<|filler_{}|>", k); }

}  // namespace

int64_t TokenLayout::id(const std::string& special) const {
  for (size_t i = 0; i < specials.size(); ++i)
    if (specials[i] == special) return first_special + static_cast<int64_t>(i);
  fail("testgen: no special token '{}' in this vocabulary", special);
}

TokenLayout token_layout(Family f, int64_t vocab) {
  const SpecialSpec spec = special_spec(f);
  TokenLayout t;
  t.specials = spec.tokens;
  const auto n_special = static_cast<int64_t>(spec.tokens.size());
  if (vocab < kByteTokens + n_special)
    fail("testgen: vocab {} too small for {} byte tokens + {} special tokens", vocab, kByteTokens, n_special);
  t.n_base = vocab - n_special;
  t.n_merged = std::min(t.n_base - kByteTokens, base_merge_count());
  t.n_fillers = t.n_base - kByteTokens - t.n_merged;
  t.first_special = spec.first ? 0 : t.n_base;
  t.first_base = spec.first ? n_special : 0;
  return t;
}

FamilyTokens family_tokens(Family f) {
  switch (f) {
    case Family::Llama:
      return {"<|begin_of_text|>", "<|eot_id|>", "", "", {"<|end_of_text|>", "<|eot_id|>"},
              {"<|end_of_text|>", "<|eot_id|>"}};
    case Family::Mistral:
    case Family::Mixtral:
      return {"<s>", "</s>", "", "<unk>", {"</s>"}, {"</s>"}};
    case Family::Qwen2:
    case Family::Qwen3:
    case Family::Qwen3Moe:
    case Family::Qwen35:
    case Family::Qwen35Moe:
      return {"", "<|im_end|>", "<|endoftext|>", "", {"<|im_end|>"}, {"<|im_end|>", "<|endoftext|>"}};
    case Family::GptOss:
      return {"<|startoftext|>", "<|return|>", "<|endoftext|>", "", {"<|return|>"},
              {"<|return|>", "<|endoftext|>", "<|call|>"}};
    case Family::Gemma3:
      return {"<bos>", "<eos>", "<pad>", "<unk>", {"<eos>", "<end_of_turn>"}, {"<eos>", "<end_of_turn>"}};
    case Family::Gemma4:
      return {"<bos>", "<eos>", "<pad>", "<unk>", {"<eos>", "<turn|>"}, {"<eos>", "<turn|>"}};
  }
  return {};
}

std::string chat_template(Family f) {
  switch (f) {
    case Family::Llama:  // Llama-3 headers; BOS written by the template (and by the post-processor, as released)
      return "{{- bos_token }}"
             "{%- for message in messages %}"
             "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + (message['content'] | trim) + "
             "'<|eot_id|>' }}"
             "{%- endfor %}"
             "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}";
    case Family::Mistral:
    case Family::Mixtral:  // [INST] turns; a system message is folded into the first user turn
      return "{{- bos_token }}"
             "{%- if messages[0]['role'] == 'system' %}"
             "{%- set system_message = messages[0]['content'] %}{%- set loop_messages = messages[1:] %}"
             "{%- else %}{%- set system_message = '' %}{%- set loop_messages = messages %}{%- endif %}"
             "{%- for message in loop_messages %}"
             "{%- if message['role'] == 'user' %}"
             "{%- if loop.first and system_message %}"
             "{{- '[INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}"
             "{%- else %}{{- '[INST] ' + message['content'] + ' [/INST]' }}{%- endif %}"
             "{%- elif message['role'] == 'assistant' %}{{- ' ' + message['content'] + eos_token }}"
             "{%- else %}{{- raise_exception('Only user, assistant and a leading system role are supported') }}"
             "{%- endif %}"
             "{%- endfor %}";
    case Family::Qwen2:
    case Family::Qwen3:
    case Family::Qwen3Moe:
    case Family::Qwen35:
    case Family::Qwen35Moe:  // ChatML
      return "{%- for message in messages %}"
             "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
             "{%- endfor %}"
             "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";
    case Family::GptOss:  // harmony: system header, developer instructions, final-channel assistant turns
      return "{{- '<|start|>system<|message|>Reasoning: medium\\n\\n# Valid channels: analysis, commentary, "
             "final.<|end|>' }}"
             "{%- for message in messages %}"
             "{%- if message['role'] == 'system' or message['role'] == 'developer' %}"
             "{{- '<|start|>developer<|message|># Instructions\\n\\n' + message['content'] + '<|end|>' }}"
             "{%- elif message['role'] == 'assistant' %}"
             "{{- '<|start|>assistant<|channel|>final<|message|>' + message['content'] + '<|end|>' }}"
             "{%- else %}{{- '<|start|>' + message['role'] + '<|message|>' + message['content'] + '<|end|>' }}"
             "{%- endif %}"
             "{%- endfor %}"
             "{%- if add_generation_prompt %}{{- '<|start|>assistant' }}{%- endif %}";
    case Family::Gemma3:  // <start_of_turn>user/model; system text prefixed to the first user turn
      return "{{- bos_token }}"
             "{%- if messages[0]['role'] == 'system' %}"
             "{%- set first_user_prefix = messages[0]['content'] + '\\n\\n' %}{%- set loop_messages = messages[1:] %}"
             "{%- else %}{%- set first_user_prefix = '' %}{%- set loop_messages = messages %}{%- endif %}"
             "{%- for message in loop_messages %}"
             "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
             "{{- '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else '') + "
             "(message['content'] | trim) + '<end_of_turn>\\n' }}"
             "{%- endfor %}"
             "{%- if add_generation_prompt %}{{- '<start_of_turn>model\\n' }}{%- endif %}";
    case Family::Gemma4:  // <|turn>role ... <turn|>; the system turn is its own turn (Gemma 4's format)
      return "{{- bos_token }}"
             "{%- for message in messages %}"
             "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
             "{{- '<|turn>' + role + '\\n' + (message['content'] | trim) + '<turn|>\\n' }}"
             "{%- endfor %}"
             "{%- if add_generation_prompt %}{{- '<|turn>model\\n' }}{%- endif %}";
  }
  return {};
}

json make_tokenizer_json(const GenerateOptions& options) {
  const Family f = family_from_name(options.family);
  const ModelShape shape = resolve_shape(options);
  const TokenLayout layout = token_layout(f, shape.vocab);
  const json& base = base_tokenizer();
  const json& base_merges = base.at("model").at("merges");

  // Base vocab ids in the embedded file: 0..255 bytes, 256 + i = merge i (checked by the unit tests).
  std::vector<std::string> base_tokens(static_cast<size_t>(kByteTokens + base_merge_count()));
  for (const auto& [token, id] : base.at("model").at("vocab").items()) {
    const auto i = id.get<int64_t>();
    if (i >= 0 && i < static_cast<int64_t>(base_tokens.size())) base_tokens[static_cast<size_t>(i)] = token;
  }

  json vocab = json::object();
  int64_t next_id = layout.first_base;
  for (int64_t i = 0; i < kByteTokens + layout.n_merged; ++i) vocab[base_tokens[static_cast<size_t>(i)]] = next_id++;
  for (int64_t k = 0; k < layout.n_fillers; ++k) vocab[filler_token(k)] = next_id++;
  json merges = json::array();
  for (int64_t i = 0; i < layout.n_merged; ++i) merges.push_back(base_merges[static_cast<size_t>(i)]);

  json added = json::array();
  for (size_t i = 0; i < layout.specials.size(); ++i) {
    added.push_back({{"id", layout.first_special + static_cast<int64_t>(i)},
                     {"content", layout.specials[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }

  const char* regex = f == Family::Llama ? kLlama3Regex : f == Family::GptOss ? kO200kRegex : kQwen2Regex;
  const json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false},
                           {"use_regex", false}};
  json pre = {{"type", "Sequence"},
              {"pretokenizers",
               json::array({{{"type", "Split"},
                             {"pattern", {{"Regex", regex}}},
                             {"behavior", "Isolated"},
                             {"invert", false}},
                            byte_level})}};

  // Families whose tokenizer prepends BOS do it with a TemplateProcessing post-processor, as released.
  const FamilyTokens roles = family_tokens(f);
  const bool adds_bos = f == Family::Llama || f == Family::Mistral || f == Family::Mixtral || f == Family::Gemma3 ||
                        f == Family::Gemma4;
  json post = byte_level;
  if (adds_bos) {
    const int64_t bos_id = layout.id(roles.bos);
    json bos_piece = {{"SpecialToken", {{"id", roles.bos}, {"type_id", 0}}}};
    json templ = {{"type", "TemplateProcessing"},
                  {"single", json::array({bos_piece, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
                  {"pair", json::array({bos_piece,
                                        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                                        {{"SpecialToken", {{"id", roles.bos}, {"type_id", 1}}}},
                                        {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}})},
                  {"special_tokens", {{roles.bos, {{"id", roles.bos}, {"ids", {bos_id}}, {"tokens", {roles.bos}}}}}}};
    post = f == Family::Llama ? json{{"type", "Sequence"}, {"processors", json::array({byte_level, templ})}} : templ;
  }

  const bool qwen_like = f == Family::Qwen2 || f == Family::Qwen3 || f == Family::Qwen3Moe || family_is_qwen35(f);
  json model = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", ""},
                {"end_of_word_suffix", ""},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"ignore_merges", f == Family::Llama},  // as Llama-3 (and llama.cpp's llama-bpe) does
                {"vocab", std::move(vocab)},
                {"merges", std::move(merges)}};
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", std::move(added)},
          {"normalizer", qwen_like ? json{{"type", "NFC"}} : json(nullptr)},
          {"pre_tokenizer", std::move(pre)},
          {"post_processor", std::move(post)},
          {"decoder", byte_level},
          {"model", std::move(model)}};
}

json make_tokenizer_config(const GenerateOptions& options) {
  const Family f = family_from_name(options.family);
  const ModelShape shape = resolve_shape(options);
  const TokenLayout layout = token_layout(f, shape.vocab);
  const FamilyTokens roles = family_tokens(f);
  auto token_or_null = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };

  json decoder = json::object();
  for (size_t i = 0; i < layout.specials.size(); ++i) {
    decoder[std::to_string(layout.first_special + static_cast<int64_t>(i))] = {
        {"content", layout.specials[i]}, {"single_word", false}, {"lstrip", false},
        {"rstrip", false},                {"normalized", false},  {"special", true}};
  }
  const bool qwen_like = f == Family::Qwen2 || f == Family::Qwen3 || f == Family::Qwen3Moe || family_is_qwen35(f);
  const bool adds_bos = f == Family::Llama || f == Family::Mistral || f == Family::Mixtral || f == Family::Gemma3 ||
                        f == Family::Gemma4;
  json cfg = {{"add_bos_token", adds_bos},
              {"add_eos_token", false},
              {"add_prefix_space", false},
              {"bos_token", token_or_null(roles.bos)},
              {"eos_token", token_or_null(roles.eos)},
              {"pad_token", token_or_null(roles.pad)},
              {"unk_token", token_or_null(roles.unk)},
              {"model_max_length", 131072},
              {"tokenizer_class", qwen_like ? "Qwen2Tokenizer" : "PreTrainedTokenizerFast"},
              {"clean_up_tokenization_spaces", false},
              {"split_special_tokens", false},
              {"added_tokens_decoder", std::move(decoder)},
              {"errors", "replace"},
              {"chat_template", chat_template(f)}};
  return cfg;
}

}  // namespace lp::testgen
