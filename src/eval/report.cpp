// Rendering of a ValidationReport: JSON (--json, validation.json, the manifest section), the terminal
// table and VALIDATION.md.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/units.h"
#include "eval/validate.h"
#include "formats/manifest.h"

namespace lp::eval {

using nlohmann::json;

namespace {

json moe_json(const ValidationReport& r, const FormatReport& f) {
  if (!f.moe)
    return {{"expert_activation_correlation", nullptr}, {"router_topk_agreement", nullptr}, {"never_activated_original", nullptr},
            {"never_activated_quantized", nullptr}, {"note", r.moe_note}};
  const MoeSummary& m = *f.moe;
  json layers = json::array();
  for (const auto& l : m.layers)
    layers.push_back({{"layer", l.layer}, {"n_expert", l.n_expert}, {"expert_activation_correlation", l.correlation},
                      {"router_topk_agreement", l.topk_agreement}, {"never_activated_original", l.never_original},
                      {"never_activated_quantized", l.never_quantized}});
  return {{"expert_activation_correlation", m.correlation}, {"router_topk_agreement", m.topk_agreement},
          {"never_activated_original", m.never_original}, {"never_activated_quantized", m.never_quantized},
          {"experts", m.total_experts}, {"routing_decisions", m.decisions},
          {"gate", {{"min_expert_correlation", f.gate.min_expert_correlation}, {"min_router_agreement", f.gate.min_router_agreement}}},
          {"layers", layers}};
}

std::string moe_cells(const FormatReport& f) {
  if (!f.moe) return fmt::format(" | {:>11} | {:>12} | {:>14}", "n/a", "n/a", "n/a");
  return fmt::format(" | {:>11.4f} | {:>12} | {:>14}", f.moe->correlation, fmt::format("{:.2f}%", 100 * f.moe->topk_agreement),
                     fmt::format("{}/{} of {}", f.moe->never_original, f.moe->never_quantized, f.moe->total_experts));
}

json format_json(const ValidationReport& r, const FormatReport& f) {
  json j = {{"format", f.format}, {"precision", f.precision}, {"path", f.path}, {"size_bytes", f.size_bytes}, {"bpw", f.bpw},
            {"status", f.status}};
  if (f.status == "SKIP") {
    j["skip_reason"] = f.skip_reason;
    for (const char* k : {"perplexity", "ppl_increase", "kld_mean", "kld_median", "kld_p99", "kld_max", "same_top1", "ppl_increase_error",
                          "tokens_to_first_divergence", "identical_prefix"})
      j[k] = nullptr;
    return j;
  }
  const auto& s = f.stats;
  j["perplexity"] = s.perplexity;
  j["perplexity_error"] = s.perplexity_error;
  j["ppl_increase"] = f.ppl_increase;
  j["kld_mean"] = s.kld_mean;
  j["kld_median"] = s.kld_median;
  j["kld_p99"] = s.kld_p99;
  j["kld_max"] = s.kld_max;
  j["same_top1"] = s.same_top1;
  j["top1_dp_mean"] = s.dp_top_mean;
  j["ppl_increase_error"] = f.ppl_increase_error ? json(*f.ppl_increase_error) : json(nullptr);
  j["ppl_increase_within_noise"] = f.ppl_within_noise;
  j["tokens_to_first_divergence"] = f.tokens_to_divergence ? json(*f.tokens_to_divergence) : json(nullptr);
  j["identical_prefix"] = f.identical_prefix ? json(*f.identical_prefix) : json(nullptr);
  j["scored_tokens"] = s.tokens;
  j["seconds"] = f.seconds;
  j["gate"] = {{"max_ppl_increase", f.gate.max_ppl_increase}, {"max_kld_mean", f.gate.max_kld_mean}};
  j["failures"] = f.failures;
  if (r.is_moe) j["moe"] = moe_json(r, f);
  if (!f.samples.empty()) {
    j["generation"] = json::array();
    for (const auto& g : f.samples)
      j["generation"].push_back({{"prompt", g.prompt}, {"original", g.reference_text}, {"quantized", g.quantized_text},
                                 {"first_divergence", g.first_divergence}, {"original_tokens", g.reference_tokens}});
  }
  return j;
}

// Markdown table cells: newlines and pipes would break the row.
std::string report_escape_cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += "<br>";
    else if (c == '|') out += "\\|";
    else out += c;
  }
  return out;
}

std::string report_pct(double v, int digits = 2) { return fmt::format("{:.{}f}%", 100 * v, digits); }

// "+0.05% ± 0.11% ~": the paired standard error, "~" when the difference is inside twice of it.
std::string delta_ppl(const FormatReport& f) {
  if (!f.ppl_increase_error) return fmt::format("{:+.2f}%", 100 * f.ppl_increase);
  return fmt::format("{:+.2f}% ± {:.2f}%{}", 100 * f.ppl_increase, 100 * *f.ppl_increase_error, f.ppl_within_noise ? " ~" : "");
}

std::string divergence(const ValidationReport& r, const FormatReport& f) {
  if (!f.tokens_to_divergence) return "-";
  return fmt::format("{:.1f}/{}", *f.tokens_to_divergence, r.gen_tokens);
}

std::string ship_line(const ValidationReport& r) {
  if (r.ship_path.empty()) return fmt::format("ship: none ({}; rule: {})\n", r.ship_reason, r.ship_rule);
  return fmt::format("ship: {} ({}) — {}; rule: {}\n", r.ship_path, r.ship_name, r.ship_reason, r.ship_rule);
}

// Router statistics: overall per format, then per layer.
std::string render_moe_markdown(const ValidationReport& r) {
  if (!r.moe_note.empty()) return "\nMoE metrics (expert activation correlation, router top-k agreement, unused experts): not measured; " + r.moe_note + ".\n";
  std::string md = "\n## MoE routing\n\nExpert activation correlation: Pearson correlation of per-expert selection counts (original vs quantized). "
                   "Router top-k agreement: share of (token, layer) decisions whose selected expert set is identical. "
                   "Unused: experts never selected on the corpus (original / quantized).\n\n"
                   "| Format | Expert corr | Router top-k agreement | Unused (orig / quant) | Gate |\n|---|---|---|---|---|\n";
  for (const auto& f : r.formats)
    if (f.moe)
      md += fmt::format("| {} {} | {:.4f} | {} | {} / {} of {} | corr > {}, agreement > {} |\n", f.format, f.precision, f.moe->correlation,
                        report_pct(f.moe->topk_agreement), f.moe->never_original, f.moe->never_quantized, f.moe->total_experts,
                        f.gate.min_expert_correlation, report_pct(f.gate.min_router_agreement, 0));
  for (const auto& f : r.formats) {
    if (!f.moe) continue;
    md += fmt::format("\n### Per layer: {} {}\n\n| Layer | Expert corr | Router top-k agreement | Unused (orig / quant) |\n|---|---|---|---|\n", f.format, f.precision);
    for (const auto& l : f.moe->layers)
      md += fmt::format("| {} | {:.4f} | {} | {} / {} of {} |\n", l.layer, l.correlation, report_pct(l.topk_agreement), l.never_original,
                        l.never_quantized, l.n_expert);
  }
  return md;
}

}  // namespace

json to_json(const ValidationReport& r) {
  std::vector<std::string> metrics;
  if (r.metrics.perplexity) metrics.push_back("perplexity");
  if (r.metrics.kld) metrics.push_back("kld");
  if (r.metrics.generation) metrics.push_back("generation");
  json j = {{"created", r.created},
            {"original", {{"path", r.original_path}, {"reference_gguf", r.reference_gguf},
                          {"reference_gguf_removed", r.reference_removed}, {"architecture", r.architecture},
                          {"reference_file", r.reference_file.empty() ? json(nullptr) : json(r.reference_file)},
                          {"perplexity", r.ref_perplexity}, {"perplexity_error", r.ref_perplexity_error}, {"seconds", r.ref_seconds}}},
            {"corpus", {{"name", r.corpus_name}, {"sha256", r.corpus_sha256}, {"bytes", r.corpus_bytes}, {"tokens", r.corpus_tokens},
                        {"chunks", r.chunks}, {"ctx", r.ctx}, {"scored_tokens", r.scored_tokens},
                        {"protocol", "llama-perplexity: non-overlapping chunks of ctx tokens, second half of each scored"}}},
            {"settings", {{"metrics", metrics}, {"ctx", r.ctx}, {"threads", r.threads}, {"kld", r.kld_method}, {"gen_tokens", r.gen_tokens}}},
            {"notes", r.notes},
            {"formats", json::array()},
            {"all_pass", r.all_pass()},
            {"ship", {{"path", r.ship_path.empty() ? json(nullptr) : json(r.ship_path)},
                      {"name", r.ship_name.empty() ? json(nullptr) : json(r.ship_name)},
                      {"rule", r.ship_rule}, {"reason", r.ship_reason}}},
            {"seconds", r.seconds}};
  if (r.is_moe) j["moe_note"] = r.moe_note;
  for (const auto& f : r.formats) j["formats"].push_back(format_json(r, f));
  return j;
}

std::string render_table(const ValidationReport& r) {
  std::string out = fmt::format("original: {} ({}), PPL {:.4f} +/- {:.4f}\ncorpus: {} ({} tokens, {} chunks of {}, {} scored)\n\n",
                                r.original_path, r.architecture, r.ref_perplexity, r.ref_perplexity_error, r.corpus_name,
                                r.corpus_tokens, r.chunks, r.ctx, r.scored_tokens);
  std::string header = fmt::format("{:<18} | {:>9} | {:>6} | {:>9} | {:>18} | {:>9} | {:>9} | {:>10}", "Format", "Size", "BPW", "PPL",
                                   "Δ PPL ± SE", "KLD mean", "KLD p99", "Same top-1");
  if (r.metrics.generation) header += fmt::format(" | {:>9}", "1st diff");
  if (r.is_moe) header += " | Expert corr | Router agree | Unused (o/q)  ";
  header += " | Status";
  out += header + "\n" + std::string(header.size() - 2, '-') + "\n";  // "Δ" and "±" are 2 bytes, 1 column each
  for (const auto& f : r.formats) {
    const std::string name = f.format + " " + f.precision;
    if (f.status == "SKIP") {
      out += fmt::format("{:<18} | {:>9} | {:>6.3f} | SKIP: {}\n", name, format_bytes(f.size_bytes), f.bpw, f.skip_reason);
      continue;
    }
    const auto& s = f.stats;
    out += fmt::format("{:<18} | {:>9} | {:>6.3f} | {:>9.4f} | {:>18} | {:>9.6f} | {:>9.6f} | {:>10}", name, format_bytes(f.size_bytes),
                       f.bpw, s.perplexity, delta_ppl(f), s.kld_mean, s.kld_p99, report_pct(s.same_top1));
    if (r.metrics.generation) out += fmt::format(" | {:>9}", divergence(r, f));
    if (r.is_moe) out += moe_cells(f);
    out += " | " + f.status;
    if (!f.failures.empty()) {
      out += " (";
      for (size_t i = 0; i < f.failures.size(); ++i) out += (i ? "; " : "") + f.failures[i];
      out += ")";
    }
    out += "\n";
  }
  if (std::any_of(r.formats.begin(), r.formats.end(), [](const FormatReport& f) { return f.ppl_within_noise; }))
    out += "~ ΔPPL within noise: smaller than twice its paired standard error\n";
  if (r.metrics.generation)
    out += fmt::format("1st diff: greedy tokens identical to the original's before the first difference (mean of {} prompts, of {})\n",
                       4, r.gen_tokens);
  out += ship_line(r);
  if (!r.moe_note.empty()) out += "MoE columns n/a: " + r.moe_note + "\n";
  if (!r.reference_file.empty()) out += "reference: " + r.reference_file + " (KLD " + r.kld_method + ")\n";
  for (const auto& n : r.notes) out += "note: " + n + "\n";
  return out;
}

std::string render_markdown(const ValidationReport& r) {
  std::string md = "# Validation\n\n";
  md += fmt::format("- Created: {}\n- Original: `{}` ({}), evaluated as the F32 GGUF `{}`{}\n", r.created, r.original_path, r.architecture,
                    r.reference_gguf, r.reference_removed ? " (temporary, removed after the run)" : "");
  md += fmt::format("- Corpus: {} (sha256 `{}`), {} tokens, {} chunks of {} tokens, {} scored tokens (second half of each chunk, llama-perplexity protocol)\n",
                    r.corpus_name, r.corpus_sha256, r.corpus_tokens, r.chunks, r.ctx, r.scored_tokens);
  md += fmt::format("- Original perplexity: {:.4f} ± {:.4f}\n- KL divergence over: {}{}\n- Run time: {:.1f} s on {} threads\n", r.ref_perplexity,
                    r.ref_perplexity_error, r.kld_method, r.reference_file.empty() ? "" : " (`" + r.reference_file + "`)", r.seconds, r.threads);
  for (const auto& n : r.notes) md += "- Note: " + n + "\n";
  md += "\n";
  md += "| Format | Size | BPW | PPL | Δ PPL ± SE | KLD mean | KLD median | KLD p99 | KLD max | Same top-1 | mean abs Δp(top) |";
  md += r.metrics.generation ? " Tokens to first divergence |" : "";
  md += " Status |\n|---|---|---|---|---|---|---|---|---|---|---|";
  md += r.metrics.generation ? "---|" : "";
  md += "---|\n";
  for (const auto& f : r.formats) {
    if (f.status == "SKIP") {
      md += fmt::format("| {} {} | {} | {:.3f} | skipped: {} |\n", f.format, f.precision, format_bytes(f.size_bytes), f.bpw, f.skip_reason);
      continue;
    }
    const auto& s = f.stats;
    md += fmt::format("| {} {} | {} | {:.3f} | {:.4f} | {} | {:.6f} | {:.6f} | {:.6f} | {:.6f} | {} | {} |", f.format, f.precision,
                      format_bytes(f.size_bytes), f.bpw, s.perplexity, delta_ppl(f), s.kld_mean, s.kld_median, s.kld_p99,
                      s.kld_max, report_pct(s.same_top1), report_pct(s.dp_top_mean, 3));
    if (r.metrics.generation) md += fmt::format(" {} |", divergence(r, f));
    md += fmt::format(" {} |\n", f.status);
  }
  md += "\n" + ship_line(r);
  md += "\nΔ PPL ± SE: paired standard error over per-token NLL differences (as llama-perplexity's Mean ln(PPL(Q)/PPL(base))); "
        "~ marks a difference inside twice that error (noise). Tokens to first divergence: greedy tokens identical to the "
        "original's before the first difference, mean over the prompts.\n";
  if (r.is_moe) md += render_moe_markdown(r);
  md += "\nGates: Δ PPL and mean KLD ceilings per precision class (defaults measured on the fixtures, see docs/VALIDATION.md; "
        "or --max-ppl-increase / --max-kld).\n";
  for (const auto& f : r.formats) {
    if (f.status == "SKIP") continue;
    md += fmt::format("- {} {}: Δ PPL ≤ {}, mean KLD ≤ {}{}\n", f.format, f.precision, report_pct(f.gate.max_ppl_increase), f.gate.max_kld_mean,
                      f.failures.empty() ? "" : " — failed: " + f.failures.front());
  }
  for (const auto& f : r.formats) {
    if (f.samples.empty()) continue;
    md += fmt::format("\n## Greedy generation: {} {}\n", f.format, f.precision);
    for (const auto& g : f.samples)
      md += fmt::format("\nPrompt: `{}` — first {} of {} tokens identical\n\n| original | quantized |\n|---|---|\n| {} | {} |\n",
                        g.prompt, g.first_divergence, g.reference_tokens, report_escape_cell(g.reference_text), report_escape_cell(g.quantized_text));
  }
  return md;
}

void write_outputs(const std::string& manifest_path, const ValidationReport& r) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(manifest_path).parent_path();
  formats::Manifest manifest = formats::Manifest::read(manifest_path);
  const json j = to_json(r);
  // Everything is rendered before the first write, so a failure leaves all three files as they were.
  manifest.sections["validation"] = j;
  const std::string validation_json = j.dump(2) + "\n", md = render_markdown(r), manifest_text = manifest.to_json().dump(2) + "\n";
  write_file_atomic(dir / "validation.json", validation_json);
  write_file_atomic(dir / "VALIDATION.md", md);
  write_file_atomic(manifest_path, manifest_text);
}

ValidationReport validate_and_record(const ValidateOptions& options) {
  ValidationReport r = validate(options);
  const std::filesystem::path dir(options.quantized);
  if (options.write_outputs && std::filesystem::is_directory(dir)) write_outputs((dir / "manifest.json").string(), r);
  return r;
}

}  // namespace lp::eval
