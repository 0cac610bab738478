// Qwen 3.5 checkpoints given to `llama-pajamas-quant convert`, through the real executable.
// Bad input (issue #20's last bullet): a missing recurrent (Gated DeltaNet) tensor, a conv kernel size that disagrees
// with config.json's linear_conv_kernel_dim, and an MTP layer count (mtp_num_hidden_layers) that disagrees with the
// mtp.* tensors. Each must exit 1 with one line "error: ..." naming the tensor or field, and write nothing.
// Layouts: qwen35moe's transformers-5 fused experts (gate_up_proj [E, 2F, D] = per expert [gate; up], down_proj
// [E, D, F]) and the same weights as per-expert tensors give byte-identical GGUFs (the per-expert path is the one
// llama.cpp's converter and the qwen3moe peer tests prove; the split here is done independently, by byte slicing),
// and so does the released multimodal wrapper (config in text_config, tensors under model.language_model.).
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "cli_helpers.h"
#include "peer_skip.h"

namespace lp::testcli {
namespace {

class Qwen35Convert : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    quant_ = binary("llama-pajamas-quant");
    if (quant_.empty()) return;
    pristine_ = std::make_unique<ScratchDir>("lp-qwen35-convert-src-");
    for (const char* family : {"qwen35", "qwen35moe"}) {
      const RunResult r = run(quant_, {"make-test-model", "--family", family, "-o", (pristine_->path() / family).string()});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }
  static void TearDownTestSuite() { pristine_.reset(); }

  void SetUp() override {
    if (quant_.empty()) LP_SKIP_OR_FAIL("llama-pajamas-quant not built next to this test (../apps/)");
  }

  fs::path copy_of(const std::string& family) {
    fs::copy(pristine_->path() / family, model(), fs::copy_options::recursive);
    return model();
  }
  fs::path model() const { return work_ / "model"; }
  fs::path weights() const { return model() / "model.safetensors"; }
  nlohmann::json config() const { return nlohmann::json::parse(read_file(model() / "config.json")); }
  void set_config(const nlohmann::json& c) const { write_file(model() / "config.json", c.dump(2)); }

  std::string expect_clean_failure() { return expect_clean_convert_failure(quant_, model(), work_.path()); }

  static inline fs::path quant_;
  static inline std::unique_ptr<ScratchDir> pristine_;
  ScratchDir work_{"lp-qwen35-convert-"};
};

TEST_F(Qwen35Convert, MissingRecurrentTensor) {
  for (const char* family : {"qwen35", "qwen35moe"}) {
    SCOPED_TRACE(family);
    fs::remove_all(model());
    copy_of(family);
    auto st = SafetensorsParts::load(weights());
    const std::string victim = "model.layers.1.linear_attn.A_log";
    ASSERT_TRUE(st.header.contains(victim));
    st.header.erase(victim);
    st.save(weights());
    const std::string err = expect_clean_failure();
    EXPECT_NE(err.find(victim), std::string::npos) << err;
  }
}

TEST_F(Qwen35Convert, ConvKernelDisagreesWithConfig) {
  copy_of("qwen35");
  auto c = config();
  ASSERT_EQ(c.at("linear_conv_kernel_dim"), 4);
  c["linear_conv_kernel_dim"] = 3;  // the weights are [C, 1, 4]
  set_config(c);
  const std::string err = expect_clean_failure();
  EXPECT_NE(err.find("model.layers.0.linear_attn.conv1d.weight"), std::string::npos) << err;
  EXPECT_NE(err.find("linear_conv_kernel_dim"), std::string::npos) << err;
}

TEST_F(Qwen35Convert, MtpLayerCountDisagreesWithTensors) {
  copy_of("qwen35moe");
  auto c = config();
  ASSERT_EQ(c.at("mtp_num_hidden_layers"), 1);
  c["mtp_num_hidden_layers"] = 2;  // the weights hold mtp.layers.0 only
  set_config(c);
  std::string err = expect_clean_failure();
  EXPECT_NE(err.find("mtp_num_hidden_layers"), std::string::npos) << err;
  EXPECT_NE(err.find("is 2 but the checkpoint has 1 MTP layer"), std::string::npos) << err;

  c["mtp_num_hidden_layers"] = 0;  // MTP tensors the config does not announce
  set_config(c);
  err = expect_clean_failure();
  EXPECT_NE(err.find("is 0 but the checkpoint has 1 MTP layer"), std::string::npos) << err;
}

// The same checkpoint with a consistent config converts (the MTP block is dropped, as llama.cpp's --no-mtp).
TEST_F(Qwen35Convert, ConsistentCheckpointConverts) {
  copy_of("qwen35");
  const fs::path out = work_ / "out";
  const RunResult r = run(quant_, {"convert", model().string(), "-o", out.string(), "--formats", "gguf", "--precision", "q8_0", "-q"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(out / "gguf"));
}

TEST_F(Qwen35Convert, FusedAndPerExpertLayoutsGiveTheSameGguf) {
  copy_of("qwen35moe");
  const fs::path per_expert = work_ / "per-expert" / "model";
  fs::create_directories(per_expert.parent_path());
  fs::copy(model(), per_expert, fs::copy_options::recursive);
  auto st = SafetensorsParts::load(per_expert / "model.safetensors");
  const auto cfg = config();
  const int64_t E = cfg.at("num_experts"), F = cfg.at("moe_intermediate_size"), H = cfg.at("hidden_size");
  const int64_t es = 2;  // BF16
  int split = 0;
  for (int il = 0; il < cfg.at("num_hidden_layers").get<int>(); ++il) {
    const std::string p = "model.layers." + std::to_string(il) + ".mlp.experts.";
    const auto gu = st.header.at(p + "gate_up_proj"), dn = st.header.at(p + "down_proj");
    ASSERT_EQ(gu.at("shape"), nlohmann::json({E, 2 * F, H}));
    ASSERT_EQ(dn.at("shape"), nlohmann::json({E, H, F}));
    ASSERT_EQ(gu.at("dtype"), "BF16");
    const size_t gu0 = gu.at("data_offsets")[0], dn0 = dn.at("data_offsets")[0];
    auto append = [&](const std::string& name, size_t from, size_t bytes, nlohmann::json shape) {
      const size_t at = st.data.size();
      const std::string piece = st.data.substr(from, bytes);
      st.data += piece;
      st.header[name] = {{"dtype", "BF16"}, {"shape", shape}, {"data_offsets", {at, at + bytes}}};
    };
    const size_t half = static_cast<size_t>(F * H * es);
    for (int64_t e = 0; e < E; ++e) {
      const std::string x = p + std::to_string(e) + ".";
      append(x + "gate_proj.weight", gu0 + static_cast<size_t>(e) * 2 * half, half, {F, H});
      append(x + "up_proj.weight", gu0 + static_cast<size_t>(e) * 2 * half + half, half, {F, H});
      append(x + "down_proj.weight", dn0 + static_cast<size_t>(e) * half, half, {H, F});
    }
    st.header.erase(p + "gate_up_proj");
    st.header.erase(p + "down_proj");
    ++split;
  }
  ASSERT_EQ(split, 4);
  st.save(per_expert / "model.safetensors");
  auto convert = [&](const fs::path& m, const fs::path& out) {
    const RunResult r = run(quant_, {"convert", m.string(), "-o", out.string(), "--formats", "gguf", "--precision", "f32", "-q"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    for (const auto& f : fs::directory_iterator(out / "gguf"))
      if (f.path().extension() == ".gguf") return read_file(f.path());
    ADD_FAILURE() << "no GGUF in " << out;
    return std::string();
  };
  const std::string fused = convert(model(), work_ / "out-fused");
  const std::string split_gguf = convert(per_expert, work_ / "per-expert" / "out");
  ASSERT_GT(fused.size(), 1000u);
  EXPECT_TRUE(fused == split_gguf) << "fused " << fused.size() << " bytes, per-expert " << split_gguf.size();
}

TEST_F(Qwen35Convert, MultimodalWrapperGivesTheSameGguf) {
  copy_of("qwen35moe");
  const fs::path wrapped = work_ / "wrapped" / "model";
  fs::create_directories(wrapped.parent_path());
  fs::copy(model(), wrapped, fs::copy_options::recursive);
  auto st = SafetensorsParts::load(wrapped / "model.safetensors");
  nlohmann::json header;
  for (auto& [name, v] : st.header.items())
    header[name.rfind("model.", 0) == 0 ? "model.language_model." + name.substr(6) : name] = v;
  st.header = header;
  st.save(wrapped / "model.safetensors");
  nlohmann::json text = config();
  text.erase("architectures");
  const nlohmann::json cfg = {{"architectures", {"Qwen3_5MoeForConditionalGeneration"}},
                              {"model_type", "qwen3_5_moe"},
                              {"tie_word_embeddings", text.at("tie_word_embeddings")},
                              {"text_config", text},
                              {"vision_config", {{"model_type", "qwen3_5_moe"}, {"depth", 1}}}};
  write_file(wrapped / "config.json", cfg.dump(2));
  auto convert = [&](const fs::path& m, const fs::path& out) {
    const RunResult r = run(quant_, {"convert", m.string(), "-o", out.string(), "--formats", "gguf", "--precision", "f32", "-q"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    for (const auto& f : fs::directory_iterator(out / "gguf"))
      if (f.path().extension() == ".gguf") return read_file(f.path());
    ADD_FAILURE() << "no GGUF in " << out;
    return std::string();
  };
  const std::string plain = convert(model(), work_ / "out-plain");
  const std::string wrapped_gguf = convert(wrapped, work_ / "wrapped" / "out");
  ASSERT_GT(plain.size(), 1000u);
  EXPECT_TRUE(plain == wrapped_gguf) << "text-only " << plain.size() << " bytes, wrapped " << wrapped_gguf.size();
}

}  // namespace
}  // namespace lp::testcli
