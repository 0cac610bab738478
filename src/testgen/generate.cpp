// generate_checkpoint: config + tokenizer files, then the weights streamed tensor by tensor (in chunks of a
// few MB) through the (sharded) safetensors writer, all inside a staging directory renamed into place.
#include <chrono>
#include <filesystem>
#include <limits>
#include <regex>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/progress.h"
#include "testgen/families.h"
#include "testgen/fill.h"
#include "testgen/generate.h"
#include "writers/safetensors_writer.h"

namespace lp::testgen {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kChunksPerWrite = 64;                 // 4 Mi values per write: a few MB in memory
constexpr uint64_t kLargeShardBytes = 500'000'000;       // ~500 MB shards, like a small release

formats::StDtype st_dtype(TensorDtype d) {
  switch (d) {
    case TensorDtype::BF16: return formats::StDtype::BF16;
    case TensorDtype::F16: return formats::StDtype::F16;
    case TensorDtype::F32: return formats::StDtype::F32;
    case TensorDtype::U8: return formats::StDtype::U8;
  }
  return formats::StDtype::U8;
}

void write_json(const fs::path& path, const nlohmann::json& j) { write_file_atomic(path, j.dump(2) + "\n"); }

// A previous checkpoint in out_dir may have a different shard layout: its weight files must not survive the merge.
void remove_old_weights(const fs::path& dir) {
  if (!fs::is_directory(dir)) return;
  static const std::regex weight_file(R"(model(-\d+-of-\d+)?\.safetensors(\.index\.json)?)");
  for (const auto& entry : fs::directory_iterator(dir))
    if (std::regex_match(entry.path().filename().string(), weight_file)) fs::remove(entry.path());
}

void write_weights(const GenerateOptions& o, const std::vector<TensorPlan>& tensors, const fs::path& dir,
                   GenerateReport& report) {
  uint64_t shard_bytes = o.shard_bytes;
  if (shard_bytes == 0) shard_bytes = o.preset == "large" ? kLargeShardBytes : std::numeric_limits<uint64_t>::max();
  writers::ShardedSafetensorsWriter writer(dir, shard_bytes, {{"format", "pt"}});
  for (const auto& t : tensors) writer.add(t.name, st_dtype(t.dtype), t.shape);
  writer.begin();

  uint64_t total_bytes = 0;
  for (const auto& t : tensors) total_bytes += t.nbytes();
  Progress progress("make-test-model", total_bytes, o.progress);
  std::vector<uint8_t> buffer;
  for (const auto& t : tensors) {
    const uint64_t chunks = chunk_count(t);
    for (uint64_t first = 0; first < chunks; first += kChunksPerWrite) {
      const uint64_t count = std::min(kChunksPerWrite, chunks - first);
      const uint64_t begin = chunk_byte_offset(t, first);
      const uint64_t end = first + count == chunks ? t.nbytes() : chunk_byte_offset(t, first + count);
      buffer.resize(end - begin);
      fill_chunks(t, o.seed, first, count, buffer.data());
      writer.write_tensor_data(t.name, buffer.data(), buffer.size());
      progress.advance(buffer.size());
    }
    report.weight_bytes += t.nbytes();
    report.n_params += t.init == InitKind::Mxfp4Blocks ? t.numel() * 2 : t.init == InitKind::Mxfp4Scales ? 0 : t.numel();
  }
  writer.finish();
  progress.finish();
  report.n_shards = writer.shard_count();
  report.n_tensors = tensors.size();
}

}  // namespace

const char* dtype_name(TensorDtype d) {
  switch (d) {
    case TensorDtype::BF16: return "BF16";
    case TensorDtype::F16: return "F16";
    case TensorDtype::F32: return "F32";
    case TensorDtype::U8: return "U8";
  }
  return "?";
}

size_t dtype_size(TensorDtype d) {
  switch (d) {
    case TensorDtype::BF16:
    case TensorDtype::F16: return 2;
    case TensorDtype::F32: return 4;
    case TensorDtype::U8: return 1;
  }
  return 0;
}

TensorDtype parse_weight_dtype(const std::string& s) {
  if (s == "bf16" || s == "BF16" || s == "bfloat16") return TensorDtype::BF16;
  if (s == "f16" || s == "F16" || s == "float16" || s == "fp16") return TensorDtype::F16;
  if (s == "f32" || s == "F32" || s == "float32" || s == "fp32") return TensorDtype::F32;
  fail("testgen: unknown weight dtype '{}' (use bf16, f16 or f32)", s);
}

GenerateReport generate_checkpoint(const GenerateOptions& options, const std::filesystem::path& out_dir) {
  const auto start = std::chrono::steady_clock::now();
  GenerateOptions o = options;
  o.family = canonical_family(options.family);
  if (o.dtype == TensorDtype::U8) fail("testgen: weight dtype must be bf16, f16 or f32");
  GenerateReport report;
  report.shape = resolve_shape(o);
  report.dir = out_dir;
  const std::vector<TensorPlan> tensors = plan_tensors(o);

  StagingDir staging(out_dir);
  write_json(staging.path() / "config.json", make_config(o));
  write_json(staging.path() / "generation_config.json", make_generation_config(o));
  write_json(staging.path() / "tokenizer.json", make_tokenizer_json(o));
  write_json(staging.path() / "tokenizer_config.json", make_tokenizer_config(o));
  write_weights(o, tensors, staging.path(), report);
  remove_old_weights(out_dir);
  staging.commit();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace lp::testgen
