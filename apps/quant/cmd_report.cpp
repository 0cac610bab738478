// llama-pajamas-quant report DIR [--output EVALUATION_REPORT.md] [--budget SIZE] [--no-charts] [--json]
// The rollup of the evaluation.json files `evaluate` wrote in a converted folder (docs/EVALUATION.md, "The report").
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "common/command.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/units.h"
#include "eval/evaluation_report.h"

namespace {

struct ReportArgs {
  std::string dir, output, budget, gnuplot = "gnuplot";
  bool json = false, no_charts = false;
};

int run_report(const ReportArgs& a) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(a.dir)) lp::fail("{}: not a folder (report reads a converted folder with manifest.json)", a.dir);
  lp::eval::EvaluationReport r = lp::eval::collect_evaluations(a.dir);
  if (!a.budget.empty()) r.budget_bytes = lp::parse_size(a.budget, "--budget");
  r.recommendations = lp::eval::recommend(r.rows, r.categories, r.budget_bytes);
  const fs::path out = a.output.empty() ? fs::path(a.dir) / "EVALUATION_REPORT.md" : fs::path(a.output);
  const fs::path out_dir = out.has_parent_path() ? out.parent_path() : fs::path(".");
  if (!fs::is_directory(out_dir)) lp::fail("--output {}: folder {} does not exist", out.string(), out_dir.string());
  if (a.no_charts) r.charts_note = "--no-charts was given.";
  else r.charts = lp::eval::render_charts(r, out_dir, a.gnuplot);
  lp::write_file_atomic(out, lp::eval::render_markdown(r));
  if (a.json) {
    nlohmann::json j = lp::eval::to_json(r);
    j["report"] = out.string();
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  int failed = 0;
  for (const auto& row : r.rows) failed += !row.ok();
  std::printf("%s: %zu rows (%d without results)%s\n", out.string().c_str(), r.rows.size(), failed,
              r.charts.empty() ? ", no charts" : fmt::format(", charts: {}", fmt::join(r.charts, ", ")).c_str());
  for (const auto& rec : r.recommendations)
    std::printf("  %-40s %s\n", rec.use_case.c_str(), rec.row ? r.rows[*rec.row].path.c_str() : ("none: " + rec.why).c_str());
  return 0;
}

lp::app::RegisterCommand reg{{"report", "Roll up evaluation.json files: table, charts, recommendations (EVALUATION_REPORT.md)",
                              [](CLI::App& sub) {
                                auto a = std::make_shared<ReportArgs>();
                                sub.add_option("dir", a->dir, "Converted folder (manifest.json, evaluation.json beside each artifact)")->required();
                                sub.add_option("-o,--output", a->output, "Report file (default: DIR/EVALUATION_REPORT.md); the PNG charts go beside it");
                                sub.add_option("--budget", a->budget, "Size budget for the 'best under budget' recommendation (4GB, 500MiB, bytes)");
                                sub.add_flag("--no-charts", a->no_charts, "Write the report without the PNG charts (the report says so)");
                                sub.add_option("--gnuplot", a->gnuplot, "gnuplot executable that draws the charts")->capture_default_str();
                                sub.add_flag("--json", a->json, "Machine-readable rollup on stdout (the report is written too)");
                                return [a] { return run_report(*a); };
                              }}};

}  // namespace
