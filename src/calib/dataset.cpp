#include "calib/dataset.h"
#include "core/file_io.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "calib/embedded_material.h"
#include "core/sha256.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "text/jinja/chat_template.h"
#include "text/jinja/template_source.h"
#include "text/tokenizer/tokenizer.h"

namespace lp::calib {
namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

// ---------------------------------------------------------------- small helpers

const std::vector<std::string>& known_domains() {
  static const std::vector<std::string> domains = {"tool_calling", "summarization", "rag", "code", "chat", "prose"};
  return domains;
}

std::vector<std::string> CalibrationSet::texts() const {
  std::vector<std::string> out;
  out.reserve(samples.size());
  for (const auto& s : samples) out.push_back(s.text);
  return out;
}

int64_t CalibrationSet::total_chars() const {
  int64_t n = 0;
  for (const auto& s : samples) n += static_cast<int64_t>(s.text.size());
  return n;
}

namespace {

std::string read_file(const fs::path& path, const std::string& what) {
  std::optional<std::string> text = try_read_file(path);
  if (!text) fail("{}: cannot read {}", what, path.string());
  return std::move(*text);
}

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (true) {
    const size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

// Splits plain text into samples at runs of two or more blank lines; each sample loses its leading and
// trailing blank lines.
std::vector<std::string> split_plain_text(std::string_view text) {
  std::vector<std::string> out;
  std::vector<std::string_view> current;
  size_t blank_run = 0;
  auto flush = [&] {
    while (!current.empty() && is_blank(current.back())) current.pop_back();
    size_t first = 0;
    while (first < current.size() && is_blank(current[first])) ++first;
    std::string s;
    for (size_t i = first; i < current.size(); ++i) {
      if (i > first) s += '\n';
      s += current[i];
    }
    if (!s.empty()) out.push_back(std::move(s));
    current.clear();
  };
  for (auto line : split_lines(text)) {
    if (is_blank(line)) {
      ++blank_run;
      if (blank_run == 2) flush();
      if (blank_run >= 2) continue;
    } else {
      blank_run = 0;
    }
    current.push_back(line);
  }
  flush();
  return out;
}

// Makes a rendered sample safe for the train.txt separator: runs of blank lines become one empty line,
// leading/trailing blank lines go. split_plain_text(join(samples, "\n\n\n")) then gives them back exactly.
std::string normalize_sample(std::string_view text) {
  std::string out;
  bool previous_blank = false, any = false;
  for (auto line : split_lines(text)) {
    const bool blank = is_blank(line);
    if (blank && (previous_blank || !any)) continue;
    if (any) out += '\n';
    out += blank ? std::string_view{} : line;
    previous_blank = blank;
    any = true;
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string dump_line(const ojson& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

CalibrationSet load_jsonl(const fs::path& path, const std::string& text) {
  CalibrationSet set;
  set.origin = path.string();
  size_t line_no = 0;
  for (auto line : split_lines(text)) {
    ++line_no;
    if (is_blank(line)) continue;
    ojson j;
    try {
      j = ojson::parse(line);
    } catch (const std::exception& e) {
      fail("{}:{}: invalid JSON line", path.string(), line_no);
    }
    CalibrationSample s;
    if (j.is_string()) {
      s.text = j.get<std::string>();
    } else if (j.is_object() && j.contains("text") && j["text"].is_string()) {
      s.text = j["text"].get<std::string>();
      if (j.contains("id") && j["id"].is_string()) s.id = j["id"].get<std::string>();
      if (j.contains("domain") && j["domain"].is_string()) s.domain = j["domain"].get<std::string>();
      if (j.contains("tokens") && j["tokens"].is_number_integer()) s.tokens = j["tokens"].get<int64_t>();
    } else {
      fail("{}:{}: expected a JSON string or an object with a \"text\" string", path.string(), line_no);
    }
    if (s.id.empty()) s.id = fmt::format("{}#{}", path.filename().string(), line_no);
    if (!s.text.empty()) set.samples.push_back(std::move(s));
  }
  return set;
}

CalibrationSet load_file(const fs::path& path) {
  const std::string text = read_file(path, "calibration");
  if (path.extension() == ".jsonl") return load_jsonl(path, text);
  CalibrationSet set;
  set.origin = path.string();
  int n = 0;
  for (auto& piece : split_plain_text(text)) {
    CalibrationSample s;
    s.id = fmt::format("{}#{}", path.filename().string(), ++n);
    s.text = std::move(piece);
    set.samples.push_back(std::move(s));
  }
  return set;
}

}  // namespace

CalibrationSet load_calibration(const std::string& dir_or_file) {
  // "builtin" names the project's own material (every domain) when no such file exists.
  if (dir_or_file == kBuiltinCalibration && !fs::exists(dir_or_file)) return builtin_calibration_samples();
  const fs::path path(dir_or_file);
  std::error_code ec;
  if (!fs::exists(path, ec)) fail("{}: no such file or directory", dir_or_file);
  CalibrationSet set;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(path / "metadata.json", ec)) {
      if (!fs::exists(path / "train.jsonl", ec)) fail("{}: metadata.json present but train.jsonl missing", dir_or_file);
      set = load_file(path / "train.jsonl");
    } else {
      std::vector<fs::path> files;
      for (const auto& entry : fs::directory_iterator(path, ec)) {
        const auto ext = entry.path().extension();
        if (entry.is_regular_file() && (ext == ".txt" || ext == ".jsonl")) files.push_back(entry.path());
      }
      if (ec) fail("{}: cannot list directory", dir_or_file);
      std::sort(files.begin(), files.end());
      if (files.empty()) fail("{}: no .txt or .jsonl files in the directory", dir_or_file);
      for (const auto& f : files) {
        auto part = load_file(f);
        for (auto& s : part.samples) set.samples.push_back(std::move(s));
      }
    }
  } else {
    set = load_file(path);
  }
  set.origin = dir_or_file;
  if (set.samples.empty()) fail("{}: no calibration text", dir_or_file);
  return set;
}

// ---------------------------------------------------------------- rendering

std::string render_plain_chat(const ojson& messages, const ojson& tools) {
  std::vector<std::string> blocks;
  if (tools.is_array() && !tools.empty()) {
    std::string b = "Available tools:";
    for (const auto& t : tools) b += "\n" + dump_line(t);
    blocks.push_back(std::move(b));
  }
  for (const auto& m : messages) {
    std::string role = m.value("role", std::string("user"));
    std::string content = m.contains("content") && m["content"].is_string() ? m["content"].get<std::string>() : "";
    std::string b;
    if (role == "tool") {
      b = "Tool result";
      if (m.contains("name") && m["name"].is_string()) b += " (" + m["name"].get<std::string>() + ")";
      b += ": " + content;
    } else {
      std::string label = role;
      if (!label.empty()) label[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(label[0])));
      b = label + ":";
      if (!content.empty()) b += " " + content;
      if (m.contains("tool_calls") && m["tool_calls"].is_array()) {
        for (const auto& call : m["tool_calls"]) {
          const auto& fn = call.contains("function") ? call["function"] : call;
          ojson c;
          c["name"] = fn.value("name", std::string());
          c["arguments"] = fn.contains("arguments") ? fn["arguments"] : ojson::object();
          b += "\n<tool_call>" + dump_line(c) + "</tool_call>";
        }
      }
    }
    blocks.push_back(std::move(b));
  }
  std::string out;
  for (size_t i = 0; i < blocks.size(); ++i) out += (i ? "\n\n" : "") + blocks[i];
  return out;
}

namespace {

struct SourceSample {
  std::string id;
  std::string domain;
  ojson record;
};

// A built-in record as chat messages (+ tools) for the chat-like domains.
std::pair<ojson, ojson> to_messages(const SourceSample& s) {
  const auto& r = s.record;
  auto need = [&](const char* key) -> const ojson& {
    if (!r.contains(key)) fail("calibration material {}: missing \"{}\"", s.id, key);
    return r[key];
  };
  ojson tools = r.contains("tools") ? r["tools"] : ojson(nullptr);
  if (s.domain == "tool_calling" || s.domain == "chat") return {need("messages"), tools};
  ojson messages = ojson::array();
  if (s.domain == "summarization") {
    messages.push_back({{"role", "user"},
                        {"content", "Summarize the following text in a few sentences.\n\n" +
                                        need("article").get<std::string>()}});
    messages.push_back({{"role", "assistant"}, {"content", need("summary").get<std::string>()}});
  } else if (s.domain == "rag") {
    std::string prompt = "Answer the question using only the passages below. Cite passages by number.\n";
    int n = 0;
    for (const auto& p : need("passages")) {
      prompt += fmt::format("\n[{}] {}\n{}\n", ++n, p.value("title", std::string()), p.value("text", std::string()));
    }
    prompt += "\nQuestion: " + need("question").get<std::string>();
    messages.push_back({{"role", "user"}, {"content", prompt}});
    messages.push_back({{"role", "assistant"}, {"content", need("answer").get<std::string>()}});
  } else {
    fail("calibration material {}: domain {} is not chat-like", s.id, s.domain);
  }
  return {messages, tools};
}

bool chat_like(const std::string& domain) { return domain != "code" && domain != "prose"; }

// Template messages need string contents (templates concatenate them).
ojson with_string_contents(ojson messages) {
  for (auto& m : messages)
    if (!m.contains("content") || m["content"].is_null()) m["content"] = "";
  return messages;
}

// For templates that reject tool turns (no "tool" role, strict alternation, one call per turn): tool calls
// become text in the assistant turn, tool results become user turns, and consecutive same-role turns merge.
ojson flatten_tool_turns(const ojson& messages) {
  ojson out = ojson::array();
  for (const auto& m : messages) {
    std::string role = m.value("role", std::string("user"));
    std::string content = m.contains("content") && m["content"].is_string() ? m["content"].get<std::string>() : "";
    if (role == "tool") {
      role = "user";
      content = "Tool result" + (m.contains("name") ? " (" + m["name"].get<std::string>() + ")" : std::string()) +
                ": " + content;
    } else if (m.contains("tool_calls") && m["tool_calls"].is_array()) {
      for (const auto& call : m["tool_calls"]) {
        const auto& fn = call.contains("function") ? call["function"] : call;
        ojson c;
        c["name"] = fn.value("name", std::string());
        c["arguments"] = fn.contains("arguments") ? fn["arguments"] : ojson::object();
        content += (content.empty() ? "" : "\n") + std::string("<tool_call>") + dump_line(c) + "</tool_call>";
      }
    }
    if (!out.empty() && out.back()["role"] == role) {
      out.back()["content"] = out.back()["content"].get<std::string>() + "\n\n" + content;
    } else {
      out.push_back({{"role", role}, {"content", content}});
    }
  }
  return out;
}

struct ModelTools {
  std::optional<text::ChatTemplate> tmpl;
  ojson special_tokens = ojson::object();
  std::optional<text::Tokenizer> tokenizer;
};

std::vector<text::TokenId> count_ids(const text::Tokenizer& tok, const std::string& s) {
  text::EncodeOptions opt;
  opt.add_special = false;  // the rendered template already carries BOS where the model wants it
  opt.parse_special = true;
  return tok.encode(s, opt);
}

// Trims to at most `limit` tokens; returns the token count of the result.
int64_t trim_to_tokens(const text::Tokenizer& tok, std::string& s, int64_t limit, bool* trimmed) {
  auto ids = count_ids(tok, s);
  int64_t keep = limit;
  for (int attempt = 0; static_cast<int64_t>(ids.size()) > limit && attempt < 8; ++attempt) {
    *trimmed = true;
    // Decoding then re-encoding a prefix can merge differently at the cut; shrink until it fits.
    s = normalize_sample(tok.decode(std::span(ids.data(), static_cast<size_t>(std::max<int64_t>(keep, 0)))));
    const auto again = count_ids(tok, s);
    const int64_t over = static_cast<int64_t>(again.size()) - limit;
    if (over <= 0) return static_cast<int64_t>(again.size());
    keep -= over;
  }
  if (static_cast<int64_t>(ids.size()) > limit) fail("cannot trim a sample to {} tokens", limit);
  return static_cast<int64_t>(ids.size());
}

std::vector<SourceSample> parse_material(const EmbeddedFile& file, const std::string& domain) {
  std::vector<SourceSample> out;
  size_t line_no = 0;
  for (auto line : split_lines(file.content)) {
    ++line_no;
    if (is_blank(line)) continue;
    SourceSample s;
    s.domain = domain;
    try {
      s.record = ojson::parse(line);
    } catch (const std::exception&) {
      fail("calibration material {}:{}: invalid JSON", file.name, line_no);
    }
    s.id = domain + "/" + s.record.value("id", fmt::format("{}", line_no));
    out.push_back(std::move(s));
  }
  return out;
}

// Test counts per domain: total round(n*(1-split)) clamped to [1, n-1] (n >= 2), shared out by largest
// remainder so every domain keeps its proportion.
std::vector<int64_t> test_quota(const std::vector<int64_t>& per_domain, double split) {
  int64_t n = 0;
  for (auto c : per_domain) n += c;
  std::vector<int64_t> quota(per_domain.size(), 0);
  if (n < 2) return quota;
  const int64_t total = std::clamp<int64_t>(std::llround(static_cast<double>(n) * (1.0 - split)), 1, n - 1);
  std::vector<std::pair<double, size_t>> remainders;
  int64_t assigned = 0;
  for (size_t d = 0; d < per_domain.size(); ++d) {
    const double exact = static_cast<double>(per_domain[d]) * static_cast<double>(total) / static_cast<double>(n);
    quota[d] = static_cast<int64_t>(std::floor(exact));
    assigned += quota[d];
    remainders.push_back({exact - std::floor(exact), d});
  }
  std::stable_sort(remainders.begin(), remainders.end(), [](auto a, auto b) { return a.first > b.first; });
  for (size_t i = 0; assigned < total; i = (i + 1) % remainders.size()) {
    const size_t d = remainders[i].second;
    if (quota[d] < per_domain[d]) {
      ++quota[d];
      ++assigned;
    }
  }
  return quota;
}

std::string split_text(const CalibrationSet& set) {
  std::string out;
  for (size_t i = 0; i < set.samples.size(); ++i) out += (i ? "\n\n\n" : "") + set.samples[i].text;
  if (!out.empty()) out += '\n';
  return out;
}

std::string split_jsonl(const CalibrationSet& set) {
  std::string out;
  for (const auto& s : set.samples) {
    ojson j;
    j["id"] = s.id;
    j["domain"] = s.domain;
    j["text"] = s.text;
    if (s.tokens) j["tokens"] = *s.tokens;
    out += dump_line(j) + "\n";
  }
  return out;
}

ojson split_stats(const CalibrationSet& set, const std::vector<std::string>& domains, bool with_tokens) {
  ojson counts = ojson::object(), tokens = ojson::object(), chars = ojson::object();
  int64_t total_tokens = 0;
  for (const auto& d : domains) {
    counts[d] = 0;
    chars[d] = 0;
    if (with_tokens) tokens[d] = 0;
  }
  for (const auto& s : set.samples) {
    counts[s.domain] = counts[s.domain].get<int64_t>() + 1;
    chars[s.domain] = chars[s.domain].get<int64_t>() + static_cast<int64_t>(s.text.size());
    if (with_tokens && s.tokens) {
      tokens[s.domain] = tokens[s.domain].get<int64_t>() + *s.tokens;
      total_tokens += *s.tokens;
    }
  }
  ojson j;
  j["samples"] = static_cast<int64_t>(set.samples.size());
  j["samples_per_domain"] = counts;
  j["chars"] = set.total_chars();
  j["chars_per_domain"] = chars;
  if (with_tokens) {
    j["tokens"] = total_tokens;
    j["tokens_per_domain"] = tokens;
  } else {
    j["tokens"] = nullptr;
  }
  return j;
}

void validate(const BuildOptions& o) {
  if (o.output.empty()) fail("--output: an output directory is required");
  if (o.samples < 1) fail("--samples must be at least 1 (got {})", o.samples);
  if (!(o.split > 0.0 && o.split < 1.0)) fail("--split must be strictly between 0 and 1 (got {})", o.split);
  if (o.context_length < 1) fail("--context-length must be at least 1 (got {})", o.context_length);
  const auto& known = known_domains();
  for (const auto& d : o.domains) {
    if (std::find(known.begin(), known.end(), d) == known.end())
      fail("--domains: unknown domain '{}' (known: {})", d, fmt::join(known, ", "));
  }
}

}  // namespace

CalibrationSet builtin_calibration_samples() {
  CalibrationSet set;
  set.origin = "built-in calibration material";
  for (const auto& domain : known_domains())
    for (const auto& file : embedded_calibration_material()) {
      if (std::string(file.name) != domain + ".jsonl") continue;
      for (const auto& src : parse_material(file, domain)) {
        CalibrationSample s;
        s.id = src.id;
        s.domain = src.domain;
        if (!chat_like(domain)) {
          if (!src.record.contains("text") || !src.record["text"].is_string())
            fail("calibration material {}: missing \"text\"", src.id);
          s.text = src.record["text"].get<std::string>();
        } else {
          auto [messages, tools] = to_messages(src);
          s.text = render_plain_chat(messages, tools);
        }
        s.text = normalize_sample(s.text);
        set.samples.push_back(std::move(s));
      }
    }
  return set;
}

BuildResult build_calibration(const BuildOptions& options) {
  validate(options);
  std::vector<std::string> domains;
  for (const auto& d : options.domains.empty() ? known_domains() : options.domains)
    if (std::find(domains.begin(), domains.end(), d) == domains.end()) domains.push_back(d);

  // Built-in material per domain, and the hashes that pin its version.
  std::map<std::string, std::vector<SourceSample>> material;
  ojson builtin_hashes = ojson::object();
  Sha256 all_material;
  for (const auto& file : embedded_calibration_material()) {
    builtin_hashes[std::string(file.name)] = sha256_hex(file.content);
    all_material.update(file.name);
    all_material.update(file.content);
    std::string domain(file.name.substr(0, file.name.rfind('.')));
    material[domain] = parse_material(file, domain);
  }
  for (const auto& d : domains)
    if (material[d].empty()) fail("--domains: no built-in material for domain '{}'", d);

  // Extra user files first: an unreadable one fails before any work.
  std::vector<CalibrationSample> user_samples;
  ojson extra_hashes = ojson::object();
  for (const auto& path : options.extra) {
    CalibrationSet set;
    try {
      set = load_calibration(path);
    } catch (const Error& e) {
      fail("--extra {}: {}", path, e.what());
    }
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<fs::path> files;
      for (const auto& entry : fs::directory_iterator(path, ec))
        if (entry.is_regular_file()) files.push_back(entry.path());
      std::sort(files.begin(), files.end());
      for (const auto& f : files) extra_hashes[f.string()] = sha256_hex(read_file(f, "--extra"));
    } else {
      extra_hashes[path] = sha256_hex(read_file(path, "--extra"));
    }
    for (auto& s : set.samples) {
      s.id = "user/" + s.id;
      s.domain = "user";
      s.tokens.reset();
      user_samples.push_back(std::move(s));
    }
  }

  // Balanced deterministic selection: shuffle each domain, then deal round-robin until N are taken.
  SplitMix64 rng(options.seed);
  std::vector<std::vector<const SourceSample*>> pools;
  for (const auto& d : domains) {
    std::vector<const SourceSample*> pool;
    for (const auto& s : material[d]) pool.push_back(&s);
    for (size_t i = pool.size(); i > 1; --i) std::swap(pool[i - 1], pool[rng.below(i)]);
    pools.push_back(std::move(pool));
  }
  std::vector<std::vector<const SourceSample*>> chosen(domains.size());
  int64_t taken = 0;
  for (size_t round = 0; taken < options.samples; ++round) {
    bool any = false;
    for (size_t d = 0; d < domains.size() && taken < options.samples; ++d) {
      if (round < pools[d].size()) {
        chosen[d].push_back(pools[d][round]);
        ++taken;
        any = true;
      }
    }
    if (!any) break;  // all material used: fewer than requested
  }

  // Model: chat template and tokenizer.
  ModelTools model;
  if (!options.model.empty()) {
    auto src = text::load_chat_template_source(options.model);
    model.tmpl.emplace(src.source);
    model.special_tokens = src.special_tokens();
    model.tokenizer.emplace(text::Tokenizer::load(options.model));
  }
  int64_t template_fallbacks = 0, template_flattened = 0, trimmed_count = 0;
  auto finish_sample = [&](CalibrationSample& s) {
    s.text = normalize_sample(s.text);
    if (model.tokenizer) {
      bool trimmed = false;
      s.tokens = trim_to_tokens(*model.tokenizer, s.text, options.context_length, &trimmed);
      if (trimmed) ++trimmed_count;
    }
  };
  auto render = [&](const SourceSample& src) {
    CalibrationSample s;
    s.id = src.id;
    s.domain = src.domain;
    if (!chat_like(src.domain)) {
      if (!src.record.contains("text") || !src.record["text"].is_string())
        fail("calibration material {}: missing \"text\"", src.id);
      s.text = src.record["text"].get<std::string>();
    } else {
      auto [messages, tools] = to_messages(src);
      if (model.tmpl) {
        try {
          s.text = model.tmpl->render_ordered(with_string_contents(messages), tools, false, model.special_tokens);
        } catch (const Error&) {
          // The template rejected the tool turns: retry with them flattened to text, then plain (counted).
          try {
            s.text = model.tmpl->render_ordered(flatten_tool_turns(messages), tools, false, model.special_tokens);
            ++template_flattened;
          } catch (const Error&) {
            ++template_fallbacks;
            s.text = render_plain_chat(messages, tools);
          }
        }
      } else {
        s.text = render_plain_chat(messages, tools);
      }
    }
    finish_sample(s);
    return s;
  };

  // Stratified split: the last `quota` of each domain's (shuffled) selection go to test.
  std::vector<std::string> all_domains = domains;
  std::vector<int64_t> per_domain;
  for (const auto& c : chosen) per_domain.push_back(static_cast<int64_t>(c.size()));
  if (!user_samples.empty()) {
    all_domains.push_back("user");
    per_domain.push_back(static_cast<int64_t>(user_samples.size()));
  }
  const auto quota = test_quota(per_domain, options.split);
  BuildResult result;
  std::vector<std::vector<CalibrationSample>> rendered(all_domains.size());
  for (size_t d = 0; d < domains.size(); ++d)
    for (const auto* src : chosen[d]) rendered[d].push_back(render(*src));
  if (!user_samples.empty()) {
    for (auto& s : user_samples) finish_sample(s);
    rendered.back() = std::move(user_samples);
  }
  // Interleave domains in both splits (round-robin) so any prefix stays balanced.
  size_t longest = 0;
  for (const auto& r : rendered) longest = std::max(longest, r.size());
  for (size_t i = 0; i < longest; ++i) {
    for (size_t d = 0; d < rendered.size(); ++d) {
      if (i >= rendered[d].size()) continue;
      const bool to_test = static_cast<int64_t>(i) >= static_cast<int64_t>(rendered[d].size()) - quota[d];
      (to_test ? result.test : result.train).samples.push_back(rendered[d][i]);
    }
  }

  const std::string train_jsonl = split_jsonl(result.train), test_jsonl = split_jsonl(result.test);
  const std::string train_txt = split_text(result.train), test_txt = split_text(result.test);

  auto& meta = result.metadata;
  meta["format"] = "llama-pajamas-calibration";
  meta["format_version"] = 1;
  meta["tool_version"] = LP_VERSION;
  meta["seed"] = options.seed;
  meta["samples_requested"] = options.samples;
  meta["samples_selected"] = taken;
  meta["split"] = options.split;
  meta["context_length"] = options.context_length;
  meta["domains"] = domains;
  meta["model"] = options.model.empty() ? ojson(nullptr) : ojson(options.model);
  meta["rendering"] = model.tmpl ? "chat_template" : "plain";
  meta["template_flattened"] = template_flattened;
  meta["template_fallbacks"] = template_fallbacks;
  meta["trimmed_samples"] = trimmed_count;
  meta["train"] = split_stats(result.train, all_domains, model.tokenizer.has_value());
  meta["test"] = split_stats(result.test, all_domains, model.tokenizer.has_value());
  meta["files"] = {{"train.jsonl", sha256_hex(train_jsonl)},
                   {"test.jsonl", sha256_hex(test_jsonl)},
                   {"train.txt", sha256_hex(train_txt)},
                   {"test.txt", sha256_hex(test_txt)}};
  meta["source"] = {{"builtin_sha256", all_material.finish_hex()}, {"builtin_files", builtin_hashes},
                    {"extra_files", extra_hashes}};

  StagingDir staging(options.output);
  write_file_atomic(staging.path() / "train.jsonl", train_jsonl);
  write_file_atomic(staging.path() / "test.jsonl", test_jsonl);
  write_file_atomic(staging.path() / "train.txt", train_txt);
  write_file_atomic(staging.path() / "test.txt", test_txt);
  write_file_atomic(staging.path() / "metadata.json", meta.dump(2) + "\n");
  staging.commit();
  result.train.origin = (fs::path(options.output) / "train.jsonl").string();
  result.test.origin = (fs::path(options.output) / "test.jsonl").string();
  return result;
}

}  // namespace lp::calib
