// `report`: hand-made evaluation.json files (the schema `evaluate` writes) in a converted folder roll up into
// EVALUATION_REPORT.md; the recommendation rules pick the rows they state; failed and unevaluated rows are shown;
// charts come from gnuplot or the call fails saying so.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "eval/evaluation_report.h"
#include "peer_skip.h"
#include "scratch_path.h"

namespace lp::eval {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

// One evaluation.json: two categories of 100 questions each (math, knowledge), accuracy split as given.
json evaluation(const std::string& path, const std::string& format, const std::string& precision, uint64_t size, double math,
                double knowledge, double decode) {
  auto cat = [](double acc) {
    return json{{"correct", static_cast<int>(acc * 100 + 0.5)}, {"total", 100}, {"accuracy", acc}, {"ci95", {acc - 0.05, acc + 0.05}}};
  };
  const double overall = (math + knowledge) / 2;
  return {{"schema", "llama-pajamas/evaluation"},
          {"version", 1},
          {"artifact", {{"path", path}, {"format", format}, {"precision", precision}, {"size_bytes", size}, {"bpw", nullptr}}},
          {"suite", {{"name", "builtin"}, {"sha256", "ab12cd34ef56ab12cd34ef56"}, {"questions", 200}}},
          {"method", "loglik"},
          {"settings", {{"threads", 2}}},
          {"overall", {{"correct", static_cast<int>(overall * 200 + 0.5)}, {"total", 200}, {"accuracy", overall},
                       {"ci95", {overall - 0.04, overall + 0.04}}, {"acc_norm", overall - 0.01}}},
          {"categories", {{"math", cat(math)}, {"knowledge", cat(knowledge)}}},
          {"speed", {{"prefill_tok_s", 10 * decode}, {"decode_tok_s", decode}, {"wall_s", 12.5}, {"peak_rss_bytes", 3 * size}}},
          {"items", json::array()},
          {"failed", nullptr}};
}

// A converted folder with six artifacts: Q8_0 (best), Q4_K_M and auto within a point (auto the smallest of them),
// Q3_K_M (the smallest and fastest, 8 points worse, best at math), MLX 4-bit (failed), Q2_K (not evaluated),
// plus the original as the baseline (higher than all, never recommended) and validate's results for Q4_K_M.
fs::path make_folder() {
  const fs::path dir = test::scratch_path("evaluation-report");
  json manifest = {{"version", 1}, {"model", {{"id", "tiny/test"}}}, {"formats", json::array()}};
  struct A {
    std::string path, format, precision;
    uint64_t size;
  };
  const std::vector<A> arts = {{"gguf/Q8_0/model.gguf", "gguf", "Q8_0", 100'000'000},
                               {"gguf/Q4_K_M/model.gguf", "gguf", "Q4_K_M", 60'000'000},
                               {"gguf/Q3_K_M/model.gguf", "gguf", "Q3_K_M", 45'000'000},
                               {"gguf/auto/model.gguf", "gguf", "auto", 55'000'000},
                               {"mlx/4bit", "mlx", "4bit", 58'000'000},
                               {"gguf/Q2_K/model.gguf", "gguf", "Q2_K", 35'000'000}};
  for (const auto& a : arts)
    manifest["formats"].push_back({{"format", a.format}, {"precision", a.precision}, {"path", a.path}, {"size_bytes", a.size}, {"bpw", 4.5}});
  write(dir / "manifest.json", manifest.dump(2));
  write(dir / "gguf/Q8_0/model.evaluation.json", evaluation("gguf/Q8_0/model.gguf", "gguf", "Q8_0", 100'000'000, 0.80, 0.80, 20).dump());
  write(dir / "gguf/Q4_K_M/model.evaluation.json", evaluation("gguf/Q4_K_M/model.gguf", "gguf", "Q4_K_M", 60'000'000, 0.78, 0.81, 30).dump());
  write(dir / "gguf/Q3_K_M/model.evaluation.json", evaluation("gguf/Q3_K_M/model.gguf", "gguf", "Q3_K_M", 45'000'000, 0.84, 0.60, 45).dump());
  write(dir / "gguf/auto/model.evaluation.json", evaluation("gguf/auto/model.gguf", "gguf", "auto", 55'000'000, 0.79, 0.79, 32).dump());
  json failed = evaluation("mlx/4bit", "mlx", "4bit", 58'000'000, 0, 0, 0);
  failed["failed"] = "cannot open mlx/4bit: model.safetensors: truncated tensor 'lm_head.weight'";
  write(dir / "mlx/4bit/evaluation.json", failed.dump());
  json original = evaluation("../model", "hf", "BF16", 200'000'000, 0.90, 0.90, 5);
  write(dir / "original.evaluation.json", original.dump());
  json validation = {{"formats", {{{"format", "gguf"}, {"precision", "Q4_K_M"}, {"path", "gguf/Q4_K_M/model.gguf"}, {"kld_mean", 0.0123},
                                   {"ppl_increase", 0.021}}}}};
  write(dir / "validation.json", validation.dump());
  return dir;
}

const Recommendation& find(const std::vector<Recommendation>& recs, const std::string& use_case) {
  for (const auto& r : recs)
    if (r.use_case == use_case) return r;
  throw std::runtime_error("no recommendation " + use_case);
}

TEST(EvaluationReport, CollectsEveryArtifactAndTheBaseline) {
  const auto r = collect_evaluations(make_folder());
  ASSERT_EQ(r.rows.size(), 7u);
  EXPECT_EQ(r.model_id, "tiny/test");
  EXPECT_EQ(r.rows[0].path, "gguf/Q8_0/model.gguf");
  EXPECT_TRUE(r.rows[0].ok());
  EXPECT_DOUBLE_EQ(r.rows[0].overall.accuracy, 0.80);
  EXPECT_EQ(r.rows[1].kld_mean.value_or(-1), 0.0123);
  EXPECT_FALSE(r.rows[0].kld_mean.has_value());
  EXPECT_NE(r.rows[4].failed.find("truncated tensor"), std::string::npos);
  EXPECT_NE(r.rows[5].failed.find("not evaluated"), std::string::npos);
  EXPECT_TRUE(r.rows[6].baseline);
  EXPECT_EQ(r.categories, (std::vector<std::string>{"knowledge", "math"}));  // the built-in suite's order
}

TEST(EvaluationReport, RecommendationRulesPickTheStatedRows) {
  const auto r = collect_evaluations(make_folder());
  const auto recs = recommend(r.rows, r.categories, 50'000'000);
  auto pick = [&](const std::string& use_case) {
    const auto& rec = find(recs, use_case);
    return rec.row ? r.rows[*rec.row].precision : std::string("none");
  };
  EXPECT_EQ(pick("Best accuracy"), "Q8_0");  // 0.80; the baseline's 0.90 does not count
  EXPECT_EQ(pick("Smallest within 1 point of the best"), "auto");  // 0.79 >= 0.80 - 0.01, 55 MB < Q4_K_M's 60 MB
  EXPECT_EQ(pick("Fastest"), "Q3_K_M");
  EXPECT_EQ(pick("Best: math"), "Q3_K_M");
  EXPECT_EQ(pick("Best: knowledge"), "Q4_K_M");
  EXPECT_EQ(pick("Best under 50.00 MB"), "Q3_K_M");  // the only evaluated artifact that fits (Q2_K has no results)
  const auto tight = recommend(r.rows, r.categories, 1'000'000);
  EXPECT_FALSE(tight.back().row.has_value());
  EXPECT_NE(tight.back().why.find("no evaluated artifact fits"), std::string::npos);
}

TEST(EvaluationReport, MarkdownShowsFailedRowsAndStatesTheRules) {
  auto r = collect_evaluations(make_folder());
  r.recommendations = recommend(r.rows, r.categories, std::nullopt);
  r.charts_note = "--no-charts was given.";
  const std::string md = render_markdown(r);
  EXPECT_NE(md.find("| `mlx/4bit` | mlx | 4bit |"), std::string::npos) << md;
  EXPECT_NE(md.find("truncated tensor 'lm_head.weight'"), std::string::npos);
  EXPECT_NE(md.find("not evaluated"), std::string::npos);
  EXPECT_NE(md.find("80.0 [76.0, 84.0]"), std::string::npos);
  EXPECT_NE(md.find("0.0123 | +2.10% |"), std::string::npos);
  EXPECT_NE(md.find("Charts: not rendered — --no-charts was given."), std::string::npos);
  EXPECT_NE(md.find("Smallest within 1 point: the smallest artifact"), std::string::npos);
  EXPECT_NE(md.find("pass --budget SIZE"), std::string::npos);
  const json j = to_json(r);
  EXPECT_EQ(j["rows"].size(), 7u);
  EXPECT_EQ(j["rows"][4]["failed"].get<std::string>().rfind("cannot open", 0), 0u);
}

TEST(EvaluationReport, BadEvaluationFileNamesTheField) {
  json j = evaluation("a.gguf", "gguf", "Q8_0", 1, 0.5, 0.5, 1);
  j["overall"].erase("accuracy");
  try {
    parse_evaluation(j, "x.evaluation.json");
    FAIL() << "accepted an evaluation without overall.accuracy";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("x.evaluation.json: field 'overall.accuracy'"), std::string::npos) << e.what();
  }
  j["schema"] = "other";
  EXPECT_THROW(parse_evaluation(j, "x"), Error);
  // In a folder, an unreadable file is a row with the reason, not an abort.
  const fs::path dir = make_folder();
  write(dir / "gguf/Q8_0/model.evaluation.json", "{not json");
  const auto r = collect_evaluations(dir);
  EXPECT_NE(r.rows[0].failed.find("unreadable evaluation"), std::string::npos);
  EXPECT_THROW(collect_evaluations(dir / "nope"), Error);
}

TEST(EvaluationReport, MissingGnuplotIsAClearError) {
  auto r = collect_evaluations(make_folder());
  try {
    render_charts(r, test::scratch_path("charts-missing"), "/nonexistent/gnuplot");
    FAIL() << "no error without gnuplot";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("gnuplot not found"), std::string::npos) << m;
    EXPECT_NE(m.find("--no-charts"), std::string::npos) << m;
  }
}

TEST(EvaluationReport, GnuplotDrawsThreePngCharts) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) LP_SKIP_OR_FAIL("gnuplot is not installed (apt-get install gnuplot-nox)");
  auto r = collect_evaluations(make_folder());
  const fs::path out = test::scratch_path("charts");
  fs::create_directories(out);
  const auto names = render_charts(r, out);
  ASSERT_EQ(names.size(), 3u);
  for (const auto& n : names) {
    std::ifstream in(out / n, std::ios::binary);
    char magic[8] = {};
    in.read(magic, 8);
    EXPECT_EQ(std::string(magic + 1, 3), "PNG") << n;
    EXPECT_GT(fs::file_size(out / n), 2000u) << n;
  }
  for (const auto& e : fs::directory_iterator(out)) EXPECT_EQ(e.path().filename().string().rfind(".lp-charts", 0), std::string::npos);
}

}  // namespace
}  // namespace lp::eval
