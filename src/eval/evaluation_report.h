// `llama-pajamas-quant report DIR` (issue #14, docs/EVALUATION.md "The report"): the rollup of the evaluation.json
// files `evaluate` wrote beside the artifacts of a converted folder — one table (accuracy with its 95% interval,
// per-category accuracy, speed, memory, validate's KLD / ΔPPL), PNG charts drawn by gnuplot, and a recommendation
// matrix whose rules are written into the report.
//
// Where the files are: manifest.json's `formats` entries (their "evaluation" field when present, else beside the
// artifact: NAME.gguf -> NAME.evaluation.json, an MLX folder -> FOLDER/evaluation.json) and the baseline
// DIR/original.evaluation.json. An artifact without one is a row marked "not evaluated"; an evaluation.json with
// "failed" is a row showing the reason; the report renders either way.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace lp::eval {

struct CategoryScore {
  int correct = 0, total = 0;
  double accuracy = 0, ci_lo = 0, ci_hi = 0;
};

struct EvaluationRow {
  std::string path;       // relative to the folder
  std::string format;     // gguf | mlx | hf
  std::string precision;
  uint64_t size_bytes = 0;
  std::optional<double> bpw;
  bool baseline = false;  // the original checkpoint (original.evaluation.json): shown, never recommended
  std::string source;     // the evaluation.json, relative to the folder ("" when absent)
  std::string failed;     // non-empty: why the row has no results (evaluate's "failed", or a missing/unreadable file)
  std::string method, suite_name, suite_sha256;
  int suite_questions = 0;
  CategoryScore overall;
  std::optional<double> acc_norm;
  std::map<std::string, CategoryScore> categories;
  std::optional<double> prefill_tok_s, decode_tok_s, wall_s;
  std::optional<uint64_t> peak_rss_bytes;
  std::optional<double> kld_mean, ppl_increase;  // validate's, when validation.json / the manifest has this path

  std::string label() const;  // "Q4_K_M gguf"
  bool ok() const { return failed.empty(); }
};

struct Recommendation {
  std::string use_case;  // "Smallest within 1 point of the best", "Fastest decode", "Best: math", "Best under 50 MB"
  std::string rule;      // the rule, as written in the report
  std::optional<size_t> row;  // index into rows; nullopt: nothing qualifies
  std::string why;       // the numbers behind the pick, or why nothing qualifies
};

struct EvaluationReport {
  std::string dir;
  std::string model_id;
  std::vector<EvaluationRow> rows;          // manifest order, baseline last
  std::vector<std::string> categories;      // union over rows, in the suite's order of the six, then others
  std::vector<std::string> notes;           // comparability warnings (different suites / methods), validation source
  std::optional<uint64_t> budget_bytes;
  std::vector<Recommendation> recommendations;
  std::vector<std::string> charts;          // PNG file names, relative to the report
  std::string charts_note;                  // when charts are not rendered: why (stated in the report)
};

// One evaluation.json (schema "llama-pajamas/evaluation" version 1) into a row. Throws lp::Error naming `origin`
// and the field when the schema or a field is wrong.
EvaluationRow parse_evaluation(const nlohmann::json& j, const std::string& origin);

// Reads DIR/manifest.json, the evaluation.json of every artifact and the baseline, and validate's results.
// Throws lp::Error when DIR has no readable manifest.json.
EvaluationReport collect_evaluations(const std::filesystem::path& dir);

// The recommendation matrix (rules in recommendation_rules()). Candidates: rows that are not failed and not the
// baseline. budget: also "best under budget".
std::vector<Recommendation> recommend(const std::vector<EvaluationRow>& rows, const std::vector<std::string>& categories,
                                      std::optional<uint64_t> budget_bytes);
std::vector<std::string> recommendation_rules(std::optional<uint64_t> budget_bytes);

// Draws the three PNG charts with gnuplot (`gnuplot` is the executable name or path) into out_dir:
// eval_accuracy_vs_size.png, eval_accuracy_vs_decode.png, eval_categories.png. Returns their file names.
// Throws lp::Error when gnuplot is not found or fails (the message says how to install it or to pass --no-charts).
std::vector<std::string> render_charts(const EvaluationReport& r, const std::filesystem::path& out_dir,
                                       const std::string& gnuplot = "gnuplot");

std::string render_markdown(const EvaluationReport& r);
nlohmann::json to_json(const EvaluationReport& r);

}  // namespace lp::eval
