// llama-pajamas-quant download REPO_ID [--revision REV] [--include GLOB]... [--output DIR] [--token T] [--json]
// Fetches a model repository into the Hugging Face hub cache ($HF_HOME/hub/models--ORG--NAME); see docs/DOWNLOAD.md.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/command.h"
#include "core/units.h"
#include "hub/hub.h"

namespace {

struct DownloadArgs {
  lp::hub::DownloadRequest req;
  std::string token, output;
  int parallel = 4;
  bool json = false, quiet = false, all = false;
};

int run_download(DownloadArgs a) {
  lp::hub::HubOptions o = lp::hub::options_from_env();
  if (!a.token.empty()) o.token = a.token;
  o.parallel = a.parallel;
  o.progress = o.progress && !a.quiet && !a.json;
  a.req.output = a.output;
  if (a.req.include.empty() && !a.all) a.req.include = lp::hub::default_model_patterns();
  const lp::hub::DownloadResult r = lp::hub::download(a.req, o);
  if (a.json) {
    nlohmann::json j = {{"repo", a.req.repo},           {"revision", a.req.revision}, {"commit", r.commit},
                        {"snapshot", r.snapshot.string()}, {"files", r.files},          {"downloaded_bytes", r.downloaded_bytes},
                        {"cached_files", r.cached_files}, {"offline", r.offline}};
    if (!a.output.empty()) j["output"] = a.output;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    if (r.offline) std::fprintf(stderr, "offline: using the cached snapshot\n");
    std::printf("%s@%s (%s): %zu files, %s downloaded, %d already cached\n%s\n", a.req.repo.c_str(), a.req.revision.c_str(),
                r.commit.substr(0, 12).c_str(), r.files.size(), lp::format_bytes(r.downloaded_bytes).c_str(),
                r.cached_files, a.output.empty() ? r.snapshot.c_str() : a.output.c_str());
  }
  return 0;
}

lp::app::RegisterCommand reg{{"download", "Download a model from the Hugging Face hub (or HF_ENDPOINT) into the hub cache",
                              [](CLI::App& sub) {
                                auto a = std::make_shared<DownloadArgs>();
                                sub.add_option("repo", a->req.repo, "Repository id, ORG/NAME")->required();
                                sub.add_option("--revision", a->req.revision, "Branch, tag or commit")->capture_default_str();
                                sub.add_option("--include", a->req.include,
                                               "Glob of files to fetch (repeatable; default: configs, tokenizer, "
                                               "*.safetensors, *.gguf)");
                                sub.add_flag("--all", a->all, "Every file of the repository (no default --include)");
                                sub.add_option("--output,-o", a->output, "Also copy the files into DIR as plain files");
                                sub.add_option("--token", a->token, "Access token (default: HF_TOKEN, then $HF_HOME/token)");
                                sub.add_option("--parallel", a->parallel, "Files downloaded at once")
                                    ->capture_default_str()->check(CLI::Range(1, 64));
                                sub.add_flag("--quiet,-q", a->quiet, "No progress bar");
                                sub.add_flag("--json", a->json, "Machine-readable summary");
                                return [a] { return run_download(*a); };
                              }}};

}  // namespace
