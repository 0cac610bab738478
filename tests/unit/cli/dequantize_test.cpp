// `llama-pajamas-quant dequantize IN.gguf OUT.gguf`: every tensor becomes F32 holding exactly what
// quant::dequantize_row decodes from IN, metadata is copied (general.file_type becomes 0 = all F32).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "cli_helpers.h"
#include "formats/gguf.h"
#include "quant/quantize.h"
#include "peer_skip.h"

namespace lp::testcli {
namespace {

TEST(Dequantize, RewritesEveryTensorAsOurDecodedF32) {
  const fs::path quant = binary("llama-pajamas-quant");
  if (quant.empty()) LP_SKIP_OR_FAIL("llama-pajamas-quant not built next to this test (../apps/)");
  ScratchDir dir;
  ASSERT_EQ(run(quant, {"make-test-model", "--family", "llama", "-o", (dir / "hf").string()}).exit_code, 0);
  const RunResult conv = run(quant, {"convert", (dir / "hf").string(), "-o", (dir / "out").string(), "--precision", "q4_k_m,q5_1", "-q"});
  ASSERT_EQ(conv.exit_code, 0) << conv.err;
  for (const char* preset : {"q4_k_m", "q5_1"}) {
    const fs::path in_path = dir / "out" / "gguf" / (std::string("hf-") + preset + ".gguf");
    const fs::path out_path = dir / (std::string(preset) + "-f32.gguf");
    const RunResult r = run(quant, {"dequantize", in_path.string(), out_path.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto in = formats::GgufFile::open(in_path.string());
    const auto out = formats::GgufFile::open(out_path.string());
    ASSERT_EQ(in.tensors().size(), out.tensors().size());
    size_t quantized = 0;
    for (size_t i = 0; i < in.tensors().size(); ++i) {
      const auto& a = in.tensors()[i];
      const auto& b = out.tensors()[i];
      ASSERT_EQ(a.name, b.name);
      ASSERT_EQ(a.ne, b.ne);
      ASSERT_EQ(b.type, GgmlType::F32) << b.name;
      std::vector<float> expect(a.n_elements());
      if (a.type == GgmlType::F32) {
        std::memcpy(expect.data(), a.data, a.nbytes);
      } else {
        ++quantized;
        quant::dequantize(a.type, a.data, expect.data(), a.rows(), a.ne[0]);
      }
      ASSERT_EQ(std::memcmp(expect.data(), b.data, b.nbytes), 0) << b.name;
    }
    EXPECT_GT(quantized, 7u);
    EXPECT_EQ(out.get_u32("general.file_type"), 0u);
    EXPECT_EQ(out.architecture(), in.architecture());
    EXPECT_EQ(out.get_strings("tokenizer.ggml.tokens"), in.get_strings("tokenizer.ggml.tokens"));
    EXPECT_EQ(out.metadata().size(), in.metadata().size());
  }
}

TEST(Dequantize, MissingInputIsAOneLineError) {
  const fs::path quant = binary("llama-pajamas-quant");
  if (quant.empty()) LP_SKIP_OR_FAIL("llama-pajamas-quant not built next to this test (../apps/)");
  ScratchDir dir;
  const RunResult r = run(quant, {"dequantize", (dir / "missing.gguf").string(), (dir / "x.gguf").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("missing.gguf"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "x.gguf"));
}

}  // namespace
}  // namespace lp::testcli
