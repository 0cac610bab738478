// `build-calibration --output DIR [...]`: builds a reproducible calibration set from the curated built-in
// material (and user files): train/test JSONL + plain text and metadata.json (see docs/CALIBRATION.md).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "calib/dataset.h"
#include "common/command.h"
#include "core/error.h"

namespace {

std::vector<std::string> split_commas(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const auto& item : items) {
    size_t start = 0;
    while (start <= item.size()) {
      const size_t comma = std::min(item.find(',', start), item.size());
      if (comma > start) out.push_back(item.substr(start, comma - start));
      start = comma + 1;
    }
  }
  return out;
}

lp::app::RegisterCommand reg{{
    "build-calibration",
    "Build a calibration data set (train/test split + metadata) from the built-in curated samples and user files",
    [](CLI::App& sub) {
      auto opt = std::make_shared<lp::calib::BuildOptions>();
      auto domains = std::make_shared<std::vector<std::string>>();
      auto json = std::make_shared<bool>(false);
      sub.add_option("--output,-o", opt->output, "directory to write (created, or merged into)")->required();
      sub.add_option("--model", opt->model,
                     "model folder or .gguf: render chats with its chat template, count and trim tokens");
      sub.add_option("--domains", *domains,
                     "comma-separated domains (default all): tool_calling,summarization,rag,code,chat,prose");
      sub.add_option("--samples", opt->samples, "built-in samples to select, balanced across domains")
          ->capture_default_str();
      sub.add_option("--context-length", opt->context_length, "with --model: trim each sample to this many tokens")
          ->capture_default_str();
      sub.add_option("--split", opt->split, "fraction of samples in the train split, in (0, 1)")->capture_default_str();
      sub.add_option("--seed", opt->seed, "selection seed (same seed, same bytes)")->capture_default_str();
      sub.add_option("--extra", opt->extra, "user .txt/.jsonl file or folder to add (repeatable)");
      sub.add_flag("--json", *json, "print metadata.json instead of a summary");
      return [opt, domains, json] {
        opt->domains = split_commas(*domains);
        const auto result = lp::calib::build_calibration(*opt);
        const auto& m = result.metadata;
        if (*json) {
          std::fputs((m.dump(2) + "\n").c_str(), stdout);
          return 0;
        }
        std::printf("wrote %s: %zu train + %zu test samples (%s rendering, seed %llu)\n", opt->output.c_str(),
                    result.train.samples.size(), result.test.samples.size(),
                    m["rendering"].get<std::string>().c_str(), static_cast<unsigned long long>(opt->seed));
        for (const auto& [domain, count] : m["train"]["samples_per_domain"].items()) {
          std::printf("  %-14s train %4lld  test %4lld\n", domain.c_str(), static_cast<long long>(count.get<int64_t>()),
                      static_cast<long long>(m["test"]["samples_per_domain"][domain].get<int64_t>()));
        }
        if (!m["train"]["tokens"].is_null())
          std::printf("  tokens: train %lld, test %lld (%lld samples trimmed to %lld)\n",
                      static_cast<long long>(m["train"]["tokens"].get<int64_t>()),
                      static_cast<long long>(m["test"]["tokens"].get<int64_t>()),
                      static_cast<long long>(m["trimmed_samples"].get<int64_t>()),
                      static_cast<long long>(opt->context_length));
        if (m["samples_selected"].get<int64_t>() < opt->samples)
          std::printf("  note: only %lld built-in samples available for these domains (asked %lld)\n",
                      static_cast<long long>(m["samples_selected"].get<int64_t>()),
                      static_cast<long long>(opt->samples));
        return 0;
      };
    },
}};

}  // namespace
