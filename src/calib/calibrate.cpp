#include "calib/calibrate.h"
#include "calib/dataset.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "convert/convert.h"
#include "core/error.h"
#include "core/progress.h"
#include "engine/matmul.h"
#include "llama_pajamas/runtime.h"

namespace fs = std::filesystem;

namespace lp::calib {
namespace {

// Exports the checkpoint to an F32 GGUF in a temporary folder (removed on destruction).
struct ReferenceGguf {
  fs::path dir;
  std::string gguf;
  explicit ReferenceGguf(const std::string& model) {
    dir = fs::temp_directory_path() / ("lp-calib-" + std::to_string(::getpid()));
    convert::ConvertOptions o;
    o.model = model;
    o.output = dir;
    o.gguf = true;
    o.precision.gguf = {plan::Preset::F32};
    o.architecture_aware = false;
    o.progress = false;
    convert::ConvertResult r = convert::convert(o);
    gguf = (dir / r.artifacts.at(0).path).string();
  }
  ~ReferenceGguf() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

}  // namespace

std::string read_calibration_text(const std::vector<std::string>& inputs) {
  if (inputs.empty()) fail("--calibration: no calibration text given");
  std::string text;
  for (const auto& in : inputs)
    for (const auto& sample : load_calibration(in).texts()) text += sample + "\n\n";
  return text;
}

CalibrateResult calibrate(const CalibrateOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  if (opt.ctx < 8) fail("--ctx: {} is too small (at least 8 tokens)", opt.ctx);
  const std::string text = read_calibration_text(opt.inputs);

  std::unique_ptr<ReferenceGguf> reference;
  std::string gguf = opt.model;
  if (!(fs::is_regular_file(opt.model) && fs::path(opt.model).extension() == ".gguf")) {
    reference = std::make_unique<ReferenceGguf>(opt.model);
    gguf = reference->gguf;
  }
  RuntimeOptions ro;
  ro.threads = opt.threads;
  ro.ctx = opt.ctx;
  ro.batch = opt.ctx;
  Runtime rt = Runtime::open(gguf, ro);
  const ModelInfo info = rt.info();

  // llama-imatrix: tokenize the whole text, cut chunks of ctx tokens, BOS first when the vocab adds one.
  std::vector<int32_t> tokens = rt.tokenize(text, /*add_special=*/false, /*parse_special=*/false);
  const int64_t available = static_cast<int64_t>(tokens.size()) / opt.ctx;
  if (available < 1)
    fail("calibration set too small: {} tokens, one chunk needs {} (--ctx)", tokens.size(), opt.ctx);
  if (opt.chunks > available)
    fail("calibration set too small for --chunks {}: {} tokens make {} chunks of {}", opt.chunks, tokens.size(), available, opt.ctx);
  const int n_chunks = opt.chunks > 0 ? opt.chunks : static_cast<int>(available);

  CalibrateResult result;
  Imatrix& im = result.imatrix;
  im.chunk_size = static_cast<uint32_t>(opt.ctx);
  for (const auto& in : opt.inputs) im.datasets.push_back(fs::path(in).filename().string());
  engine::set_activation_observer([&im](const engine::ActivationEvent& e) {
    im.accumulate(e.weight, e.expert, e.n_expert, e.x, e.n_tokens, e.cols);
  });
  struct ClearObserver {
    ~ClearObserver() { engine::set_activation_observer({}); }
  } clear;

  Progress bar("calibrate", static_cast<uint64_t>(n_chunks), opt.progress);
  for (int c = 0; c < n_chunks; ++c) {
    std::vector<int32_t> chunk(tokens.begin() + static_cast<int64_t>(c) * opt.ctx,
                               tokens.begin() + static_cast<int64_t>(c + 1) * opt.ctx);
    if (info.add_bos && info.bos_token >= 0) chunk[0] = info.bos_token;
    rt.evaluate(chunk);
    result.tokens += static_cast<int64_t>(chunk.size());
    im.chunk_count = static_cast<uint32_t>(c + 1);
    bar.advance();
  }
  bar.finish();
  result.chunks = n_chunks;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace lp::calib
