// `dequantize IN.gguf OUT.gguf` (developer command, hidden): rewrites every non-F32 tensor as F32 using
// our own quant::dequantize_row and copies the metadata unchanged (except general.file_type).
// The peer test runs llama.cpp on IN and on OUT: equal next-token distributions prove llama.cpp decodes
// our blocks exactly as we do (a wrong nibble order or scale layout would show as large differences).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "common/command.h"
#include "core/error.h"
#include "formats/gguf.h"
#include "quant/quantize.h"
#include "writers/gguf_writer.h"

namespace {

struct DequantizeArgs {
  std::string input, output;
  bool json = false;
};

int run_dequantize(const DequantizeArgs& a) {
  using namespace lp;
  const formats::GgufFile in = formats::GgufFile::open(a.input);
  writers::GgufWriter out(a.output, in.alignment());
  for (const auto& [key, value] : in.metadata()) {
    if (key == "general.alignment") continue;  // the writer emits it from its own alignment
    out.set(key, value);
  }
  out.set("general.file_type", uint32_t{0});  // LLAMA_FTYPE_ALL_F32
  uint64_t converted = 0;
  for (const auto& t : in.tensors()) {
    if (t.type != GgmlType::F32 && !quant::can_dequantize(t.type))
      fail("{}: tensor '{}': cannot dequantize type {}", a.input, t.name, ggml_type_name(t.type));
    out.add_tensor(t.name, GgmlType::F32, t.ne);
  }
  out.begin();
  std::vector<float> row;
  for (const auto& t : in.tensors()) {
    if (t.type == GgmlType::F32) {
      out.write_tensor_data(t.name, t.data, t.nbytes);
      continue;
    }
    ++converted;
    const int64_t ncols = t.ne[0];
    const uint64_t row_bytes = ggml_row_bytes(t.type, static_cast<uint64_t>(ncols));
    row.resize(static_cast<size_t>(ncols));
    for (int64_t r = 0; r < t.rows(); ++r) {
      quant::dequantize_row(t.type, t.data + static_cast<uint64_t>(r) * row_bytes, row.data(), ncols);
      out.write_tensor_data(t.name, row.data(), row.size() * sizeof(float));
    }
  }
  out.finish();
  if (a.json)
    std::printf("{\"output\": \"%s\", \"tensors\": %zu, \"dequantized\": %llu, \"bytes\": %llu}\n", a.output.c_str(),
                in.tensors().size(), static_cast<unsigned long long>(converted),
                static_cast<unsigned long long>(out.bytes_written()));
  else
    std::printf("%s: %llu of %zu tensors dequantized to F32\n", a.output.c_str(),
                static_cast<unsigned long long>(converted), in.tensors().size());
  return 0;
}

const lp::app::RegisterCommand reg{{"dequantize",
                                    "Rewrite a GGUF with every tensor as F32 decoded by our dequantizer (llama.cpp peer checks)",
                                    [](CLI::App& sub) {
                                      auto a = std::make_shared<DequantizeArgs>();
                                      sub.group("Developer");
                                      sub.add_option("input", a->input, "Input .gguf")->required();
                                      sub.add_option("output", a->output, "Output .gguf (all tensors F32)")->required();
                                      sub.add_flag("--json", a->json, "Machine-readable summary");
                                      return [a] { return run_dequantize(*a); };
                                    }}};

}  // namespace
