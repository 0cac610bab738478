#include "formats/describe.h"

#include <filesystem>

#include <fmt/format.h>

#include "core/units.h"

namespace lp::formats {

namespace {
std::string type_label(const GgufValue& v) {
  if (!v.is_array()) return gguf_type_name(v.type());
  return std::string("array of ") + gguf_type_name(v.array_type());
}
}  // namespace

nlohmann::ordered_json describe_gguf(const GgufFile& f, size_t max_items, bool with_tensors) {
  nlohmann::ordered_json d;
  d["format"] = "gguf";
  d["path"] = f.path();
  d["version"] = f.version();
  d["alignment"] = f.alignment();
  d["data_offset"] = f.data_offset();
  d["file_size"] = f.file_size();
  nlohmann::ordered_json meta = nlohmann::ordered_json::object(), types = nlohmann::ordered_json::object();
  for (const auto& [k, v] : f.metadata()) {
    meta[k] = v.to_json(max_items);
    types[k] = type_label(v);
  }
  d["metadata"] = std::move(meta);
  d["metadata_types"] = std::move(types);
  uint64_t total = 0;
  for (const auto& t : f.tensors()) total += t.nbytes;
  d["tensor_count"] = f.tensors().size();
  d["total_bytes"] = total;
  if (with_tensors) {
    auto& arr = d["tensors"] = nlohmann::ordered_json::array();
    for (const auto& t : f.tensors())
      arr.push_back({{"name", t.name}, {"type", ggml_type_name(t.type)}, {"shape", t.ne}, {"offset", t.offset}, {"bytes", t.nbytes}});
  }
  return d;
}

nlohmann::ordered_json describe_safetensors(const SafetensorsFile& f, bool with_tensors) {
  nlohmann::ordered_json d;
  d["format"] = "safetensors";
  d["path"] = f.path();
  d["data_offset"] = f.data_offset();
  d["metadata"] = f.metadata();
  uint64_t total = 0;
  for (const auto& t : f.tensors()) total += t.nbytes;
  d["tensor_count"] = f.tensors().size();
  d["total_bytes"] = total;
  if (with_tensors) {
    auto& arr = d["tensors"] = nlohmann::ordered_json::array();
    for (const auto& t : f.tensors())
      arr.push_back({{"name", t.name}, {"dtype", st_dtype_name(t.dtype)}, {"shape", t.shape}, {"bytes", t.nbytes}});
  }
  return d;
}

nlohmann::ordered_json describe_checkpoint(const Checkpoint& c, bool with_tensors) {
  nlohmann::ordered_json d;
  d["format"] = "checkpoint";
  d["dir"] = c.dir();
  d["model_type"] = c.config().value("model_type", "");
  d["architectures"] = c.config().value("architectures", nlohmann::json::array());
  auto& files = d["files"] = nlohmann::ordered_json::array();
  for (const auto& f : c.files()) files.push_back(std::filesystem::path(f.path()).filename().string());
  d["has_chat_template"] = c.chat_template().has_value();
  d["has_tokenizer"] = std::filesystem::exists(c.path_of("tokenizer.json"));
  d["tensor_count"] = c.tensor_count();
  d["total_bytes"] = c.total_bytes();
  d["config"] = c.config();
  if (with_tensors) {
    auto& arr = d["tensors"] = nlohmann::ordered_json::array();
    for (const auto& name : c.tensor_names()) {
      const StTensor& t = c.tensor(name);
      arr.push_back({{"name", t.name}, {"dtype", st_dtype_name(t.dtype)}, {"shape", t.shape}, {"bytes", t.nbytes},
                     {"file", std::filesystem::path(t.file).filename().string()}});
    }
  }
  return d;
}

namespace {
std::string dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}
std::string shape_text(const nlohmann::ordered_json& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + dump(s[i]);
  return out + "]";
}
// Abbreviated value text: long strings (chat templates) are cut to one line.
std::string value_text(const nlohmann::ordered_json& v) {
  std::string s = dump(v);
  if (v.is_object() && v.contains("count") && v.contains("head") && v.size() == 3) {  // abbreviated GGUF array
    s = dump(v["head"]);
    s = s.substr(0, s.size() - 1) + fmt::format(", ... {} items]", v["count"].get<uint64_t>());
  }
  if (s.size() > 160) s = s.substr(0, 157) + "...";
  return s;
}
}  // namespace

std::string describe_text(const nlohmann::ordered_json& d) {
  std::string out;
  const std::string format = d.value("format", "");
  if (format == "gguf") {
    out += fmt::format("{}: GGUF v{}, alignment {}, {} metadata keys, {} tensors, {}\n", d["path"].get<std::string>(),
                       d["version"].get<int>(), d["alignment"].get<int>(), d["metadata"].size(),
                       d["tensor_count"].get<uint64_t>(), format_bytes(d["total_bytes"].get<uint64_t>()));
    out += "metadata:\n";
    for (const auto& [k, v] : d["metadata"].items())
      out += fmt::format("  {} ({}) = {}\n", k, d["metadata_types"][k].get<std::string>(), value_text(v));
  } else if (format == "safetensors") {
    out += fmt::format("{}: safetensors, {} tensors, {}\n", d["path"].get<std::string>(),
                       d["tensor_count"].get<uint64_t>(), format_bytes(d["total_bytes"].get<uint64_t>()));
    if (!d["metadata"].empty()) out += "metadata:\n";
    for (const auto& [k, v] : d["metadata"].items()) out += fmt::format("  {} = {}\n", k, value_text(v));
  } else {
    out += fmt::format("{}: checkpoint, model_type {}, {} files, {} tensors, {}, chat template: {}\n",
                       d["dir"].get<std::string>(), d["model_type"].get<std::string>(), d["files"].size(),
                       d["tensor_count"].get<uint64_t>(), format_bytes(d["total_bytes"].get<uint64_t>()),
                       d["has_chat_template"].get<bool>() ? "yes" : "no");
    out += "config:\n";
    for (const auto& [k, v] : d["config"].items()) out += fmt::format("  {} = {}\n", k, value_text(v));
  }
  if (d.contains("tensors")) {
    out += "tensors:\n";
    for (const auto& t : d["tensors"]) {
      const std::string type = t.contains("type") ? t["type"].get<std::string>() : t["dtype"].get<std::string>();
      out += fmt::format("  {:<48} {:<8} {:<24} {:>12}{}\n", t["name"].get<std::string>(), type, shape_text(t["shape"]),
                         t["bytes"].get<uint64_t>(), t.contains("file") ? "  " + t["file"].get<std::string>() : "");
    }
  }
  return out;
}

}  // namespace lp::formats
