#include "tiny_fixture.h"

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "core/mapped_file.h"
#include "quant/blocks.h"
#include "scratch_path.h"

namespace lp::engine::testing {
namespace fs = std::filesystem;

std::string fixture_dir(const std::string& name) {
  const fs::path p = fs::path(LP_SHARED_FIXTURES) / name;
  return fs::exists(p / "model.safetensors") ? p.string() : "";
}

namespace {

class GgufOut {
 public:
  void kv_u32(const std::string& k, uint32_t v) { key(k, 4); pod(meta_, v); ++n_kv_; }
  void kv_f32(const std::string& k, float v) { key(k, 6); pod(meta_, v); ++n_kv_; }
  void kv_bool(const std::string& k, bool v) { key(k, 7); pod(meta_, uint8_t(v)); ++n_kv_; }
  void kv_str(const std::string& k, const std::string& v) { key(k, 8); str(meta_, v); ++n_kv_; }
  void tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne, std::vector<uint8_t> bytes) {
    str(info_, name);
    pod(info_, uint32_t(ne.size()));
    for (int64_t e : ne) pod(info_, uint64_t(e));
    pod(info_, uint32_t(type));
    while (data_.size() % 32) data_.push_back(0);
    pod(info_, uint64_t(data_.size()));
    data_.insert(data_.end(), bytes.begin(), bytes.end());
    ++n_tensors_;
  }
  void write(const std::string& path) {
    std::vector<uint8_t> out;
    pod(out, uint32_t(0x46554747));
    pod(out, uint32_t(3));
    pod(out, n_tensors_);
    pod(out, n_kv_);
    out.insert(out.end(), meta_.begin(), meta_.end());
    out.insert(out.end(), info_.begin(), info_.end());
    while (out.size() % 32) out.push_back(0);
    out.insert(out.end(), data_.begin(), data_.end());
    const std::string tmp = fmt::format("{}.{}.tmp", path, getpid());
    std::ofstream(tmp, std::ios::binary).write(reinterpret_cast<const char*>(out.data()), out.size());
    fs::rename(tmp, path);
  }

 private:
  template <typename T>
  static void pod(std::vector<uint8_t>& b, T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
  }
  static void str(std::vector<uint8_t>& b, const std::string& s) {
    pod(b, uint64_t(s.size()));
    b.insert(b.end(), s.begin(), s.end());
  }
  void key(const std::string& k, uint32_t type) {
    str(meta_, k);
    pod(meta_, type);
  }
  std::vector<uint8_t> meta_, info_, data_;
  uint64_t n_kv_ = 0, n_tensors_ = 0;
};

std::vector<uint8_t> encode(const std::vector<float>& v, GgmlType type) {
  std::vector<uint8_t> out;
  if (type == GgmlType::F32) {
    out.resize(v.size() * 4);
    std::memcpy(out.data(), v.data(), out.size());
  } else if (type == GgmlType::F16) {
    out.resize(v.size() * 2);
    auto* h = reinterpret_cast<uint16_t*>(out.data());
    for (size_t i = 0; i < v.size(); ++i) h[i] = f32_to_f16(v[i]);
  } else if (type == GgmlType::Q8_0) {
    out.resize(v.size() / 32 * sizeof(quant::block_q8_0));
    auto* b = reinterpret_cast<quant::block_q8_0*>(out.data());
    for (size_t i = 0; i < v.size() / 32; ++i) {
      float amax = 0;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(v[i * 32 + j]));
      const float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
      b[i].d = f32_to_f16(d);
      for (int j = 0; j < 32; ++j) b[i].qs[j] = static_cast<int8_t>(std::nearbyint(v[i * 32 + j] * id));
    }
  } else {
    fail("tiny_fixture: unsupported type {}", ggml_type_name(type));
  }
  return out;
}

std::string gguf_name(const std::string& hf) {
  static const std::map<std::string, std::string> sub = {
      {"self_attn.q_proj", "attn_q"}, {"self_attn.k_proj", "attn_k"}, {"self_attn.v_proj", "attn_v"},
      {"self_attn.o_proj", "attn_output"}, {"self_attn.q_norm", "attn_q_norm"}, {"self_attn.k_norm", "attn_k_norm"},
      {"input_layernorm", "attn_norm"}, {"post_attention_layernorm", "ffn_norm"}, {"mlp.gate_proj", "ffn_gate"},
      {"mlp.up_proj", "ffn_up"}, {"mlp.down_proj", "ffn_down"}};
  if (hf == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf == "model.norm.weight") return "output_norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  const std::string pre = "model.layers.";
  if (hf.rfind(pre, 0) != 0) fail("tiny_fixture: unexpected tensor {}", hf);
  const size_t dot = hf.find('.', pre.size());
  const std::string layer = hf.substr(pre.size(), dot - pre.size());
  std::string rest = hf.substr(dot + 1);
  const std::string suffix = rest.substr(rest.rfind('.'));
  rest = rest.substr(0, rest.rfind('.'));
  return "blk." + layer + "." + sub.at(rest) + suffix;
}

}  // namespace

std::string tiny_qwen3_gguf(GgmlType type) {
  const std::string dir = fixture_dir("tiny-qwen3");
  if (dir.empty()) return "";
  // One file per process and type, removed at exit: a fixed shared name outlived fixture and code
  // changes (it was never invalidated) and raced between the test processes ctest runs side by side.
  static std::map<GgmlType, std::string> made;
  if (const auto it = made.find(type); it != made.end()) return it->second;
  const fs::path scratch = lp::test::scratch_path(fmt::format("lp_engine_tiny_qwen3_{}", ggml_type_name(type)));
  fs::create_directories(scratch);
  const std::string out = (scratch / "model.gguf").string();
  made[type] = out;
  nlohmann::json cfg = nlohmann::json::parse(std::ifstream(dir + "/config.json"));
  MappedFile st(dir + "/model.safetensors");
  uint64_t hlen;
  std::memcpy(&hlen, st.data(), 8);
  const auto header = nlohmann::json::parse(std::string(reinterpret_cast<const char*>(st.data() + 8), hlen));
  const uint8_t* base = st.data() + 8 + hlen;

  GgufOut g;
  g.kv_str("general.architecture", "qwen3");
  g.kv_u32("general.alignment", 32);
  g.kv_u32("qwen3.context_length", cfg["max_position_embeddings"]);
  g.kv_u32("qwen3.embedding_length", cfg["hidden_size"]);
  g.kv_u32("qwen3.block_count", cfg["num_hidden_layers"]);
  g.kv_u32("qwen3.feed_forward_length", cfg["intermediate_size"]);
  g.kv_u32("qwen3.attention.head_count", cfg["num_attention_heads"]);
  g.kv_u32("qwen3.attention.head_count_kv", cfg["num_key_value_heads"]);
  g.kv_u32("qwen3.attention.key_length", cfg["head_dim"]);
  g.kv_u32("qwen3.attention.value_length", cfg["head_dim"]);
  g.kv_f32("qwen3.rope.freq_base", cfg["rope_theta"]);
  g.kv_f32("qwen3.attention.layer_norm_rms_epsilon", cfg["rms_norm_eps"]);
  g.kv_u32("tokenizer.ggml.eos_token_id", cfg["eos_token_id"]);
  g.kv_u32("tokenizer.ggml.bos_token_id", cfg["bos_token_id"]);
  g.kv_bool("tokenizer.ggml.add_bos_token", false);
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const auto& info = it.value();
    if (info["dtype"] != "BF16") fail("tiny_fixture: {} is {}, expected BF16", it.key(), std::string(info["dtype"]));
    std::vector<int64_t> shape = info["shape"].get<std::vector<int64_t>>();
    const uint64_t begin = info["data_offsets"][0];
    size_t n = 1;
    for (int64_t s : shape) n *= s;
    std::vector<float> v(n);
    const auto* src = reinterpret_cast<const uint16_t*>(base + begin);
    for (size_t i = 0; i < n; ++i) v[i] = bf16_to_f32(src[i]);
    std::vector<int64_t> ne(shape.rbegin(), shape.rend());
    const GgmlType t = shape.size() == 1 ? GgmlType::F32 : type;
    g.tensor(gguf_name(it.key()), t, ne, encode(v, t));
  }
  g.write(out);
  return out;
}

std::vector<int32_t> heldout_tokens(size_t max) {
  std::ifstream in(std::string(LP_SOURCE_DIR) + "/tests/data/engine/heldout_tokens_tiny_qwen3.txt");
  std::vector<int32_t> t;
  for (int32_t v; t.size() < max && in >> v;) t.push_back(v);
  return t;
}

}  // namespace lp::engine::testing
