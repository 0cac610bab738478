// Hugging Face hub client: downloads a model repository into the hub cache layout that transformers and
// huggingface-cli use ($HF_HOME/hub/models--ORG--NAME/{blobs,snapshots,refs}), and resolves repo ids to a local
// snapshot folder (cache first: a model already downloaded needs no network). See docs/DOWNLOAD.md.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace lp::hub {

struct HubOptions {
  std::string endpoint;  // HF_ENDPOINT, default https://huggingface.co
  std::string token;     // --token, else HF_TOKEN, else $HF_HOME/token
  std::filesystem::path cache_dir;  // HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub
  bool offline = false;  // HF_HUB_OFFLINE=1: cache only
  bool progress = true;  // a progress bar on a terminal
  int parallel = 4;      // files downloaded at once
  long connect_timeout_s = 10;
};

// From the environment (HF_ENDPOINT, HF_TOKEN, HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE).
HubOptions options_from_env();

// "org/name" or "name" with only [A-Za-z0-9._-] parts; never a path that exists.
bool is_repo_id(const std::string& text);

// <cache>/models--org--name
std::filesystem::path repo_cache_dir(const std::filesystem::path& cache, const std::string& repo);

struct DownloadRequest {
  std::string repo;
  std::string revision = "main";      // branch, tag or commit
  std::vector<std::string> include;   // glob patterns (fnmatch, '*' crosses '/'), empty: every file
  std::filesystem::path output;       // also place the files here as plain files (like huggingface-cli --local-dir)
};

struct DownloadResult {
  std::filesystem::path snapshot;  // <cache>/models--org--name/snapshots/<commit>
  std::string commit;
  std::vector<std::string> files;  // repository paths now in the snapshot
  uint64_t downloaded_bytes = 0;   // bytes fetched over the network (resumed parts count once)
  int cached_files = 0;            // files already in the cache
  bool offline = false;            // served from the cache without the network
};

// Downloads (or completes) a revision. Throws lp::Error with one line: HTTP status for unknown repos/revisions and
// gated repos, the cache path tried when the network is unreachable, the file and both digests on a checksum error.
DownloadResult download(const DownloadRequest& request, const HubOptions& options);

// The snapshot of `repo` at `revision` already in the cache (refs/<revision> or a commit), if every file is present.
std::optional<std::filesystem::path> cached_snapshot(const HubOptions& options, const std::string& repo,
                                                     const std::string& revision = "main");

// A model argument of detect/plan/convert/validate: an existing path is returned as is; a repo id ("org/name",
// optionally "org/name@revision") is resolved through the cache, downloading the model files if absent.
std::string resolve_model(const std::string& path_or_repo, const HubOptions& options);
std::string resolve_model(const std::string& path_or_repo);  // options_from_env(), no progress bar off a terminal

// Files a model needs when a repo id is given without --include: configs, tokenizer, safetensors/GGUF weights.
const std::vector<std::string>& default_model_patterns();

bool glob_match(const std::string& pattern, const std::string& path);

}  // namespace lp::hub
