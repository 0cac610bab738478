#include "eval/evaluation_report.h"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/units.h"

namespace lp::eval {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const std::vector<std::string> kSuiteOrder = {"knowledge", "math", "reasoning", "common_sense", "truthfulness", "tool_calling"};
constexpr double kWithin = 0.01;  // "within 1 point": one percentage point of accuracy

json read_json(const fs::path& p) {
  std::ifstream in(p);
  if (!in) fail("{}: cannot read", p.string());
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    fail("{}: not JSON ({})", p.string(), e.what());
  }
}

template <typename T>
T field(const json& j, const char* key, const std::string& origin, const std::string& where) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) fail("{}: field '{}{}' is missing", origin, where, key);
  try {
    return j[key].get<T>();
  } catch (const json::exception&) {
    fail("{}: field '{}{}' has the wrong type", origin, where, key);
  }
}

std::optional<double> opt_number(const json& j, const char* key, const std::string& origin, const std::string& where) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return std::nullopt;
  if (!j[key].is_number()) fail("{}: field '{}{}' must be a number or null", origin, where, key);
  return j[key].get<double>();
}

CategoryScore score(const json& j, const std::string& origin, const std::string& where) {
  CategoryScore s;
  s.correct = field<int>(j, "correct", origin, where);
  s.total = field<int>(j, "total", origin, where);
  s.accuracy = field<double>(j, "accuracy", origin, where);
  const json ci = j.value("ci95", json());
  if (!ci.is_array() || ci.size() != 2 || !ci[0].is_number() || !ci[1].is_number())
    fail("{}: field '{}ci95' must be [lo, hi]", origin, where);
  s.ci_lo = ci[0].get<double>();
  s.ci_hi = ci[1].get<double>();
  return s;
}

// evaluation.json beside an artifact, as `evaluate` writes it.
std::string beside(const std::string& artifact) {
  fs::path p(artifact);
  if (p.extension() == ".gguf") return (p.parent_path() / (p.stem().string() + ".evaluation.json")).string();
  return (p / "evaluation.json").string();
}

std::string pct(double v, int digits = 1) { return fmt::format("{:.{}f}%", 100 * v, digits); }
std::string points(double v) { return fmt::format("{:.1f}", 100 * v); }

std::string escape_cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += ' ';
    else if (c == '|') out += "\\|";
    else out += c;
  }
  return out;
}

bool better_accuracy(const EvaluationRow& a, const EvaluationRow& b) {  // higher accuracy, then smaller, then path
  if (a.overall.accuracy != b.overall.accuracy) return a.overall.accuracy > b.overall.accuracy;
  if (a.size_bytes != b.size_bytes) return a.size_bytes < b.size_bytes;
  return a.path < b.path;
}

std::string row_numbers(const EvaluationRow& r) {
  return fmt::format("{} accuracy, {}", pct(r.overall.accuracy), format_bytes(r.size_bytes));
}

// Finds an executable: a name with '/' as given, else on PATH.
std::optional<std::string> find_executable(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? std::optional(name) : std::nullopt;
  const char* path = std::getenv("PATH");
  std::stringstream ss(path ? path : "");
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) continue;
    const std::string full = dir + "/" + name;
    if (access(full.c_str(), X_OK) == 0) return full;
  }
  return std::nullopt;
}

std::string gp_quote(const std::string& s) {  // a gnuplot double-quoted string
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string EvaluationRow::label() const { return baseline ? precision + " original" : precision + " " + format; }

EvaluationRow parse_evaluation(const json& j, const std::string& origin) {
  if (!j.is_object()) fail("{}: not a JSON object", origin);
  if (j.value("schema", std::string()) != "llama-pajamas/evaluation")
    fail("{}: field 'schema' must be \"llama-pajamas/evaluation\"", origin);
  if (j.value("version", 0) != 1) fail("{}: field 'version' must be 1 (this report reads version 1)", origin);
  EvaluationRow r;
  const json& a = j.value("artifact", json());
  r.path = field<std::string>(a, "path", origin, "artifact.");
  r.format = field<std::string>(a, "format", origin, "artifact.");
  r.precision = a.value("precision", std::string("unknown"));
  r.size_bytes = a.contains("size_bytes") && a["size_bytes"].is_number_unsigned() ? a["size_bytes"].get<uint64_t>() : 0;
  r.bpw = opt_number(a, "bpw", origin, "artifact.");
  if (j.contains("failed") && !j["failed"].is_null()) {
    r.failed = j["failed"].is_string() ? j["failed"].get<std::string>() : j["failed"].dump();
    if (r.failed.empty()) r.failed = "failed (no reason given)";
    return r;
  }
  const json& s = j.value("suite", json());
  r.suite_name = s.value("name", std::string());
  r.suite_sha256 = s.value("sha256", std::string());
  r.suite_questions = s.value("questions", 0);
  r.method = field<std::string>(j, "method", origin, "");
  const json& o = j.value("overall", json());
  r.overall = score(o, origin, "overall.");
  r.acc_norm = opt_number(o, "acc_norm", origin, "overall.");
  const json& c = j.value("categories", json::object());
  if (!c.is_object()) fail("{}: field 'categories' must be an object", origin);
  for (const auto& [name, v] : c.items()) r.categories[name] = score(v, origin, "categories." + name + ".");
  const json& sp = j.value("speed", json::object());
  r.prefill_tok_s = opt_number(sp, "prefill_tok_s", origin, "speed.");
  r.decode_tok_s = opt_number(sp, "decode_tok_s", origin, "speed.");
  r.wall_s = opt_number(sp, "wall_s", origin, "speed.");
  if (auto rss = opt_number(sp, "peak_rss_bytes", origin, "speed.")) r.peak_rss_bytes = static_cast<uint64_t>(*rss);
  return r;
}

EvaluationReport collect_evaluations(const fs::path& dir) {
  EvaluationReport rep;
  rep.dir = dir.string();
  const fs::path manifest_path = dir / "manifest.json";
  if (!fs::is_regular_file(manifest_path)) fail("{}: no manifest.json (report reads a converted folder)", dir.string());
  const json m = read_json(manifest_path);
  if (!m.is_object() || !m.contains("formats") || !m["formats"].is_array())
    fail("{}: field 'formats' must be a list of artifacts", manifest_path.string());
  rep.model_id = m.contains("model") && m["model"].is_object() ? m["model"].value("id", std::string()) : std::string();

  auto load = [&](EvaluationRow base, const std::string& rel) {
    base.source = rel;
    const fs::path file = dir / rel;
    if (!fs::is_regular_file(file)) {
      base.source.clear();
      base.failed = "not evaluated (no " + rel + "; run `llama-pajamas-quant evaluate --model " + rep.dir + "`)";
      return base;
    }
    try {
      EvaluationRow r = parse_evaluation(read_json(file), file.string());
      r.source = rel;
      r.baseline = base.baseline;
      if (r.size_bytes == 0) r.size_bytes = base.size_bytes;
      if (!r.bpw) r.bpw = base.bpw;
      return r;
    } catch (const Error& e) {
      base.failed = std::string("unreadable evaluation: ") + e.what();
      return base;
    }
  };
  size_t k = 0;
  for (const auto& f : m["formats"]) {
    const std::string where = fmt::format("formats[{}].", k++);
    EvaluationRow base;
    base.path = field<std::string>(f, "path", manifest_path.string(), where);
    base.format = field<std::string>(f, "format", manifest_path.string(), where);
    base.precision = f.value("precision", std::string("unknown"));
    base.size_bytes = f.contains("size_bytes") && f["size_bytes"].is_number_unsigned() ? f["size_bytes"].get<uint64_t>() : 0;
    if (f.contains("bpw") && f["bpw"].is_number() && f["bpw"].get<double>() > 0) base.bpw = f["bpw"].get<double>();
    const std::string rel = f.contains("evaluation") && f["evaluation"].is_string() ? f["evaluation"].get<std::string>() : beside(base.path);
    EvaluationRow r = load(base, rel);
    // The manifest's description of the artifact wins over what evaluation.json repeats (a copied or stale file).
    r.path = base.path;
    r.format = base.format;
    r.precision = base.precision;
    if (base.size_bytes) r.size_bytes = base.size_bytes;
    if (base.bpw) r.bpw = base.bpw;
    rep.rows.push_back(std::move(r));
  }
  if (fs::is_regular_file(dir / "original.evaluation.json")) {
    EvaluationRow base;
    base.baseline = true;
    base.format = "hf";
    base.precision = "original";
    rep.rows.push_back(load(base, "original.evaluation.json"));
    rep.rows.back().baseline = true;
  }

  // validate's results: validation.json, else the manifest's "validation" section; matched by artifact path.
  json validation;
  std::string validation_source;
  if (fs::is_regular_file(dir / "validation.json")) {
    try {
      validation = read_json(dir / "validation.json");
      validation_source = "validation.json";
    } catch (const Error& e) {
      rep.notes.push_back(std::string("KLD / ΔPPL not shown: ") + e.what());
    }
  } else if (m.contains("validation")) {
    validation = m["validation"];
    validation_source = "manifest.json (validation)";
  }
  if (validation.is_object() && validation.contains("formats") && validation["formats"].is_array()) {
    int matched = 0;
    for (const auto& f : validation["formats"]) {
      if (!f.is_object() || !f.contains("path") || !f["path"].is_string()) continue;
      for (auto& r : rep.rows) {
        if (r.baseline || r.path != f["path"].get<std::string>()) continue;
        if (f.contains("kld_mean") && f["kld_mean"].is_number()) r.kld_mean = f["kld_mean"].get<double>();
        if (f.contains("ppl_increase") && f["ppl_increase"].is_number()) r.ppl_increase = f["ppl_increase"].get<double>();
        ++matched;
      }
    }
    rep.notes.push_back(fmt::format("KLD and ΔPPL from validate ({}), {} artifact(s) matched by path.", validation_source, matched));
  } else if (validation_source.empty()) {
    rep.notes.push_back("KLD and ΔPPL: the folder has no validate results (run `llama-pajamas-quant validate`); shown as '-'.");
  }

  // Categories in the built-in suite's order, then any others alphabetically.
  std::vector<std::string> seen;
  for (const auto& r : rep.rows)
    for (const auto& [c, s] : r.categories)
      if (std::find(seen.begin(), seen.end(), c) == seen.end()) seen.push_back(c);
  for (const auto& c : kSuiteOrder)
    if (std::find(seen.begin(), seen.end(), c) != seen.end()) rep.categories.push_back(c);
  std::sort(seen.begin(), seen.end());
  for (const auto& c : seen)
    if (std::find(kSuiteOrder.begin(), kSuiteOrder.end(), c) == kSuiteOrder.end()) rep.categories.push_back(c);

  // Comparability: rows scored on different suites or with different methods are not side by side.
  std::vector<std::string> suites, methods;
  for (const auto& r : rep.rows) {
    if (!r.ok()) continue;
    const std::string s = r.suite_name + " (" + r.suite_sha256.substr(0, 12) + ")";
    if (std::find(suites.begin(), suites.end(), s) == suites.end()) suites.push_back(s);
    if (std::find(methods.begin(), methods.end(), r.method) == methods.end()) methods.push_back(r.method);
  }
  if (suites.size() > 1)
    rep.notes.push_back(fmt::format("Warning: the rows were scored on {} different suites ({}): their accuracies do not compare.",
                                    suites.size(), fmt::join(suites, ", ")));
  if (methods.size() > 1)
    rep.notes.push_back(fmt::format("Warning: the rows were scored with different methods ({}): their accuracies do not compare.",
                                    fmt::join(methods, ", ")));
  return rep;
}

std::vector<std::string> recommendation_rules(std::optional<uint64_t> budget_bytes) {
  std::vector<std::string> rules = {
      "Candidates: the artifacts whose evaluation succeeded; the original checkpoint is the baseline and is never recommended; failed or unevaluated rows are never picked.",
      "Ties are broken by the smaller artifact, then by path.",
      "Best accuracy: the highest overall accuracy.",
      "Smallest within 1 point: the smallest artifact (bytes on disk) whose overall accuracy is at most 1 percentage point below the best candidate's.",
      "Fastest: the highest decode speed (tokens/s) recorded by evaluate; rows without a decode speed are not candidates.",
      "Best per category: the highest accuracy on that category's questions.",
  };
  rules.push_back(budget_bytes ? fmt::format("Best under {}: the highest overall accuracy among artifacts of at most {} bytes.",
                                             format_bytes(*budget_bytes), *budget_bytes)
                               : std::string("Best under a size budget: pass --budget SIZE (e.g. 4GB, 500MiB) to add this row."));
  rules.push_back("A pick is not a significant win over a row whose 95% interval overlaps its own: read the picks with the intervals in the table.");
  return rules;
}

std::vector<Recommendation> recommend(const std::vector<EvaluationRow>& rows, const std::vector<std::string>& categories,
                                      std::optional<uint64_t> budget_bytes) {
  std::vector<size_t> cand;
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i].ok() && !rows[i].baseline) cand.push_back(i);
  std::vector<Recommendation> out;
  const std::string none = "no evaluated artifact";
  auto best_by = [&](auto key, auto eligible) -> std::optional<size_t> {  // highest key; ties: smaller, then path
    std::optional<size_t> best;
    for (size_t i : cand) {
      if (!eligible(rows[i])) continue;
      if (!best) { best = i; continue; }
      const double a = key(rows[i]), b = key(rows[*best]);
      const auto& x = rows[i];
      const auto& y = rows[*best];
      if (a > b || (a == b && (x.size_bytes < y.size_bytes || (x.size_bytes == y.size_bytes && x.path < y.path)))) best = i;
    }
    return best;
  };
  auto all = [](const EvaluationRow&) { return true; };
  auto acc = [](const EvaluationRow& r) { return r.overall.accuracy; };

  const auto best = best_by(acc, all);
  out.push_back({"Best accuracy", "highest overall accuracy", best, best ? row_numbers(rows[*best]) : none});

  Recommendation small{"Smallest within 1 point of the best", "smallest artifact with accuracy >= best - 1 point", std::nullopt, none};
  if (best) {
    const double floor = rows[*best].overall.accuracy - kWithin - 1e-12;
    for (size_t i : cand) {
      if (rows[i].overall.accuracy < floor) continue;
      if (!small.row || rows[i].size_bytes < rows[*small.row].size_bytes ||
          (rows[i].size_bytes == rows[*small.row].size_bytes && better_accuracy(rows[i], rows[*small.row])))
        small.row = i;
    }
    small.why = fmt::format("{}; best is {} ({})", row_numbers(rows[*small.row]), pct(rows[*best].overall.accuracy), rows[*best].label());
  }
  out.push_back(small);

  const auto fast = best_by([](const EvaluationRow& r) { return *r.decode_tok_s; },
                            [](const EvaluationRow& r) { return r.decode_tok_s.has_value(); });
  out.push_back({"Fastest", "highest decode tokens/s", fast,
                 fast ? fmt::format("{:.1f} decode tok/s, {}", *rows[*fast].decode_tok_s, row_numbers(rows[*fast]))
                      : (cand.empty() ? none : std::string("no row recorded a decode speed"))});

  for (const auto& c : categories) {
    const auto pick = best_by([&](const EvaluationRow& r) { return r.categories.at(c).accuracy; },
                              [&](const EvaluationRow& r) { return r.categories.count(c) > 0 && r.categories.at(c).total > 0; });
    out.push_back({"Best: " + c, "highest accuracy on " + c, pick,
                   pick ? fmt::format("{} on {} ({}/{}), {}", pct(rows[*pick].categories.at(c).accuracy), c,
                                      rows[*pick].categories.at(c).correct, rows[*pick].categories.at(c).total,
                                      format_bytes(rows[*pick].size_bytes))
                        : none + " scored " + c});
  }
  if (budget_bytes) {
    const uint64_t b = *budget_bytes;
    const auto pick = best_by(acc, [&](const EvaluationRow& r) { return r.size_bytes > 0 && r.size_bytes <= b; });
    out.push_back({"Best under " + format_bytes(b), "highest accuracy with size <= budget", pick,
                   pick ? row_numbers(rows[*pick]) : fmt::format("no evaluated artifact fits in {}", format_bytes(b))});
  }
  return out;
}

std::vector<std::string> render_charts(const EvaluationReport& r, const fs::path& out_dir, const std::string& gnuplot) {
  const auto exe = find_executable(gnuplot);
  if (!exe)
    fail("gnuplot not found ('{}'): the report's charts are drawn by gnuplot (Debian: apt-get install gnuplot-nox); "
         "pass --no-charts to write the report without charts", gnuplot);
  std::vector<size_t> ok;
  for (size_t i = 0; i < r.rows.size(); ++i)
    if (r.rows[i].ok()) ok.push_back(i);
  const fs::path work = out_dir / fmt::format(".lp-charts-{}", getpid());
  fs::create_directories(work);
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } cleanup{work};

  // Data: one line per row (label, size MB, accuracy %, ci lo %, ci hi %, decode tok/s or NaN).
  {
    std::ofstream d(work / "rows.dat");
    for (size_t i : ok) {
      const auto& x = r.rows[i];
      d << gp_quote(x.label()) << ' ' << fmt::format("{:.6f} {:.4f} {:.4f} {:.4f} {}", x.size_bytes / 1e6, 100 * x.overall.accuracy,
                                                     100 * x.overall.ci_lo, 100 * x.overall.ci_hi,
                                                     x.decode_tok_s ? fmt::format("{:.4f}", *x.decode_tok_s) : std::string("NaN"))
        << '\n';
    }
    std::ofstream c(work / "categories.dat");
    c << "category";
    for (size_t i : ok) c << ' ' << gp_quote(r.rows[i].label());
    c << '\n';
    for (const auto& cat : r.categories) {
      c << gp_quote(cat);
      for (size_t i : ok) {
        const auto it = r.rows[i].categories.find(cat);
        c << ' ' << (it == r.rows[i].categories.end() ? std::string("NaN") : fmt::format("{:.4f}", 100 * it->second.accuracy));
      }
      c << '\n';
    }
  }
  bool any_decode = false;
  for (size_t i : ok) any_decode |= r.rows[i].decode_tok_s.has_value();
  const std::string title = r.model_id.empty() ? std::string() : " — " + r.model_id;
  std::string gp = "set terminal pngcairo size 960,600 font 'DejaVu Sans,11' noenhanced\n"
                   "set datafile missing 'NaN'\nset grid\nset key off\nset yrange [0:105]\nset ylabel 'accuracy (%)'\n";
  if (ok.empty()) {
    gp += "set output 'eval_accuracy_vs_size.png'\nset title 'no evaluated artifact'\nplot 1/0 notitle\n";
  } else {
    gp += "set output 'eval_accuracy_vs_size.png'\nset title " + gp_quote("Accuracy vs size" + title) +
          "\nset xlabel 'size (MB)'\nset logscale x\nset offsets graph 0.08, graph 0.08, 0, 0\n"
          "plot 'rows.dat' using 2:3:4:5 with yerrorbars pt 7 ps 1.4 lc rgb '#1f77b4', '' using 2:3:1 with labels left offset char 1,0.6 font ',9'\n"
          "unset logscale x\n";
    gp += "set output 'eval_accuracy_vs_decode.png'\nset title " + gp_quote("Accuracy vs decode speed" + title) +
          "\nset xlabel 'decode (tokens/s)'\n";
    gp += any_decode ? "plot 'rows.dat' using 6:3:4:5 with yerrorbars pt 7 ps 1.4 lc rgb '#d62728', '' using 6:3:1 with labels left offset char 1,0.6 font ',9'\n"
                     : "set label 1 'no decode speed recorded' at graph 0.5, graph 0.5 center\nplot 1/0 notitle\nunset label 1\n";
  }
  gp += "set output 'eval_categories.png'\nset title " + gp_quote("Accuracy per category" + title) +
        "\nset offsets 0,0,0,0\nset xlabel ''\nset key outside right top vertical\nset style data histograms\n"
        "set style histogram clustered gap 1\nset style fill solid 0.85 border -1\nset boxwidth 0.9\nset xtics rotate by -20\n";
  gp += ok.empty() || r.categories.empty()
            ? "unset key\nplot 1/0 notitle\n"
            : fmt::format("plot for [i=2:{}] 'categories.dat' using i:xtic(1) title columnheader(i)\n", ok.size() + 1);
  {
    std::ofstream s(work / "charts.gp");
    s << gp;
  }
  const pid_t pid = fork();
  if (pid < 0) fail("cannot start gnuplot: fork failed");
  if (pid == 0) {
    if (chdir(work.c_str()) != 0) _exit(126);
    execl(exe->c_str(), exe->c_str(), "charts.gp", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail("gnuplot ({}) failed on the chart script (exit status {}); pass --no-charts to write the report without charts", *exe,
         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  std::vector<std::string> names = {"eval_accuracy_vs_size.png", "eval_accuracy_vs_decode.png", "eval_categories.png"};
  for (const auto& n : names) {
    if (!fs::is_regular_file(work / n) || fs::file_size(work / n) == 0) fail("gnuplot ({}) wrote no {}", *exe, n);
  }
  for (const auto& n : names) fs::rename(work / n, out_dir / n);
  return names;
}

std::string render_markdown(const EvaluationReport& r) {
  std::string md = "# Evaluation report\n\n";
  md += fmt::format("Folder: `{}`{}\n\n", r.dir, r.model_id.empty() ? "" : fmt::format(" — model `{}`", r.model_id));
  for (const auto& x : r.rows) {
    if (!x.ok()) continue;
    md += fmt::format("Suite: {} ({} questions, sha256 `{}`), method `{}`.\n\n", x.suite_name, x.suite_questions,
                      x.suite_sha256.substr(0, 16), x.method);
    break;
  }
  for (const auto& n : r.notes) md += "- " + n + "\n";
  if (!r.notes.empty()) md += "\n";

  md += "## Results\n\nAccuracy in percent with its 95% confidence interval as evaluation.json records it; per-category "
        "accuracy in percent; speeds from the evaluation run; KLD = validate's mean KL divergence, ΔPPL = its perplexity increase.\n\n";
  md += "| Artifact | Format | Precision | Size | bpw | Accuracy (95% CI) |";
  for (const auto& c : r.categories) md += " " + c + " |";
  md += " Prefill tok/s | Decode tok/s | Peak RSS | KLD | ΔPPL |\n|---|---|---|---|---|---|";
  for (size_t i = 0; i < r.categories.size(); ++i) md += "---|";
  md += "---|---|---|---|---|\n";
  auto opt = [](const std::optional<double>& v, const char* f) { return v ? fmt::format(fmt::runtime(f), *v) : std::string("-"); };
  for (const auto& x : r.rows) {
    md += fmt::format("| `{}`{} | {} | {} | {} | {} | ", escape_cell(x.path.empty() ? "original" : x.path), x.baseline ? " (baseline)" : "",
                      x.format, x.precision, x.size_bytes ? format_bytes(x.size_bytes) : "-", opt(x.bpw, "{:.2f}"));
    if (!x.ok()) {
      md += "**" + escape_cell(x.failed) + "** |";
      for (size_t i = 0; i < r.categories.size(); ++i) md += " - |";
      md += " - | - | - |";
    } else {
      md += fmt::format("{} [{}, {}]{} |", points(x.overall.accuracy), points(x.overall.ci_lo), points(x.overall.ci_hi),
                        x.acc_norm ? fmt::format(" (norm {})", points(*x.acc_norm)) : "");
      for (const auto& c : r.categories) {
        const auto it = x.categories.find(c);
        md += it == x.categories.end() ? " - |" : fmt::format(" {} |", points(it->second.accuracy));
      }
      md += fmt::format(" {} | {} | {} |", opt(x.prefill_tok_s, "{:.1f}"), opt(x.decode_tok_s, "{:.1f}"),
                        x.peak_rss_bytes ? format_bytes(*x.peak_rss_bytes) : "-");
    }
    md += fmt::format(" {} | {} |\n", opt(x.kld_mean, "{:.4f}"), x.ppl_increase ? fmt::format("{:+.2f}%", 100 * *x.ppl_increase) : "-");
  }

  md += "\n## Charts\n\n";
  if (r.charts.empty()) {
    md += "Charts: not rendered — " + r.charts_note + "\n";
  } else {
    const std::vector<std::string> captions = {"Accuracy vs size (error bars: 95% CI)", "Accuracy vs decode speed",
                                               "Accuracy per category"};
    for (size_t i = 0; i < r.charts.size(); ++i)
      md += fmt::format("![{}]({})\n\n", i < captions.size() ? captions[i] : r.charts[i], r.charts[i]);
  }

  md += "## Recommendations\n\n| Use case | Pick | Why |\n|---|---|---|\n";
  for (const auto& rec : r.recommendations)
    md += fmt::format("| {} | {} | {} |\n", rec.use_case,
                      rec.row ? fmt::format("`{}` ({})", r.rows[*rec.row].path, r.rows[*rec.row].label()) : std::string("none"),
                      escape_cell(rec.why));
  md += "\nRules:\n";
  for (const auto& rule : recommendation_rules(r.budget_bytes)) md += "- " + rule + "\n";
  return md;
}

json to_json(const EvaluationReport& r) {
  json rows = json::array();
  auto o = [](const auto& v) { return v ? json(*v) : json(nullptr); };
  for (const auto& x : r.rows) {
    json cats = json::object();
    for (const auto& [c, s] : x.categories)
      cats[c] = {{"correct", s.correct}, {"total", s.total}, {"accuracy", s.accuracy}, {"ci95", {s.ci_lo, s.ci_hi}}};
    rows.push_back({{"path", x.path}, {"format", x.format}, {"precision", x.precision}, {"size_bytes", x.size_bytes},
                    {"bpw", o(x.bpw)}, {"baseline", x.baseline}, {"evaluation", x.source.empty() ? json(nullptr) : json(x.source)},
                    {"failed", x.ok() ? json(nullptr) : json(x.failed)}, {"method", x.method},
                    {"suite", {{"name", x.suite_name}, {"sha256", x.suite_sha256}, {"questions", x.suite_questions}}},
                    {"overall", x.ok() ? json{{"correct", x.overall.correct}, {"total", x.overall.total}, {"accuracy", x.overall.accuracy},
                                              {"ci95", {x.overall.ci_lo, x.overall.ci_hi}}, {"acc_norm", o(x.acc_norm)}}
                                       : json(nullptr)},
                    {"categories", cats},
                    {"speed", {{"prefill_tok_s", o(x.prefill_tok_s)}, {"decode_tok_s", o(x.decode_tok_s)}, {"wall_s", o(x.wall_s)},
                               {"peak_rss_bytes", o(x.peak_rss_bytes)}}},
                    {"kld_mean", o(x.kld_mean)}, {"ppl_increase", o(x.ppl_increase)}});
  }
  json recs = json::array();
  for (const auto& rec : r.recommendations)
    recs.push_back({{"use_case", rec.use_case}, {"rule", rec.rule}, {"path", rec.row ? json(r.rows[*rec.row].path) : json(nullptr)},
                    {"why", rec.why}});
  return {{"dir", r.dir}, {"model_id", r.model_id}, {"rows", rows}, {"categories", r.categories}, {"notes", r.notes},
          {"budget_bytes", o(r.budget_bytes)}, {"recommendations", recs}, {"rules", recommendation_rules(r.budget_bytes)},
          {"charts", r.charts}, {"charts_note", r.charts.empty() ? json(r.charts_note) : json(nullptr)}};
}

}  // namespace lp::eval
