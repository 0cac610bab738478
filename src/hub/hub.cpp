#include "hub/hub.h"

#include <curl/curl.h>
#include <fnmatch.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/progress.h"
#include "core/sha256.h"

namespace fs = std::filesystem;

namespace lp::hub {

namespace {

// A failure to reach the server at all (DNS, refused, timeout): the caller may fall back to the cache.
class NetworkError : public Error {
 public:
  using Error::Error;
};

void curl_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool is_commit(const std::string& rev) {
  if (rev.size() != 40) return false;
  for (char c : rev)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

std::string escape_path(CURL* c, const std::string& path) {  // each segment escaped, '/' kept
  std::string out;
  size_t start = 0;
  while (true) {
    const size_t end = path.find('/', start);
    const std::string seg = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    char* e = curl_easy_escape(c, seg.c_str(), static_cast<int>(seg.size()));
    out += e;
    curl_free(e);
    if (end == std::string::npos) break;
    out += '/';
    start = end + 1;
  }
  return out;
}

struct Handle {
  CURL* c;
  curl_slist* headers = nullptr;
  char errbuf[CURL_ERROR_SIZE] = {};
  Handle(const HubOptions& o, const std::string& url, const std::string& range = {}) {
    curl_init_once();
    c = curl_easy_init();
    if (!c) fail("curl: cannot create a handle");
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, o.connect_timeout_s);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);  // a stalled transfer ends after 60 s (resumable)
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "llama-pajamas/" LP_VERSION);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    // The token goes to the hub only: libcurl drops a custom Authorization header on a redirect to another host
    // (the hub redirects LFS files to its CDN with a signed URL).
    if (!o.token.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + o.token).c_str());
    if (!range.empty()) curl_easy_setopt(c, CURLOPT_RANGE, range.c_str());
    if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  }
  ~Handle() {
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
  }
  long status() const {
    long s = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &s);
    return s;
  }
  std::string message(CURLcode rc) const { return errbuf[0] ? std::string(errbuf) : curl_easy_strerror(rc); }
};

bool is_connect_error(CURLcode rc) {
  return rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_PROXY ||
         rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_SSL_CONNECT_ERROR;
}

struct TextResponse {
  long status = 0;
  std::string body, next_link;
};

size_t append_body(char* p, size_t s, size_t n, void* ud) {
  static_cast<std::string*>(ud)->append(p, s * n);
  return s * n;
}

size_t link_header(char* p, size_t s, size_t n, void* ud) {  // Link: <url>; rel="next"  (tree pagination)
  std::string line(p, s * n);
  std::string lower = line;
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (lower.rfind("link:", 0) == 0 && lower.find("rel=\"next\"") != std::string::npos) {
    const size_t a = line.find('<'), b = line.find('>');
    if (a != std::string::npos && b != std::string::npos && b > a) *static_cast<std::string*>(ud) = line.substr(a + 1, b - a - 1);
  }
  return s * n;
}

TextResponse get_text(const HubOptions& o, const std::string& url) {
  Handle h(o, url);
  TextResponse r;
  curl_easy_setopt(h.c, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(h.c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(h.c, CURLOPT_HEADERFUNCTION, link_header);
  curl_easy_setopt(h.c, CURLOPT_HEADERDATA, &r.next_link);
  const CURLcode rc = curl_easy_perform(h.c);
  if (rc != CURLE_OK) {
    if (is_connect_error(rc)) throw NetworkError(fmt::format("cannot reach {} ({})", o.endpoint, h.message(rc)));
    fail("{}: {}", url, h.message(rc));
  }
  r.status = h.status();
  return r;
}

[[noreturn]] void http_fail(const HubOptions& o, const std::string& what, const std::string& url, long status) {
  if (status == 401 || status == 403)
    fail("{}: HTTP {} from {}: gated or private repository; {}", what, status, url,
         o.token.empty() ? "pass --token or set HF_TOKEN (and accept the model's terms on the hub)"
                         : "the token has no access (accept the model's terms on the hub, or check the token)");
  if (status == 404) fail("{}: HTTP 404 from {}: unknown repository, revision or file", what, url);
  fail("{}: HTTP {} from {}", what, status, url);
}

struct RemoteFile {
  std::string path, blob_id, sha256;  // sha256 empty when not an LFS file (then the size is checked)
  uint64_t size = 0;
  bool size_known = false;
};

struct Shared {
  std::mutex mu;
  std::optional<Progress> bar;
  std::atomic<uint64_t> downloaded{0};
  uint64_t done_bytes = 0;
  void add(uint64_t n) {
    downloaded += n;
    std::lock_guard lock(mu);
    done_bytes += n;
    if (bar) bar->set(done_bytes);
  }
};

struct FileSink {
  FILE* f;
  long offset;
  Handle* h;
  Shared* shared;
  bool restarted = false, error_status = false;
};

size_t write_file(char* p, size_t s, size_t n, void* ud) {
  auto* sink = static_cast<FileSink*>(ud);
  const long status = sink->h->status();
  if (status >= 400) {
    sink->error_status = true;
    return s * n;  // error page: not part of the file
  }
  if (status == 200 && sink->offset > 0 && !sink->restarted) {  // the server ignored Range: start over
    sink->restarted = true;
    if (::ftruncate(::fileno(sink->f), 0) != 0 || std::fseek(sink->f, 0, SEEK_SET) != 0) return 0;
  }
  const size_t w = std::fwrite(p, 1, s * n, sink->f);
  sink->shared->add(w);
  return w;
}

std::string file_sha256(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  Sha256 h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) h.update(std::string_view(buf.data(), static_cast<size_t>(in.gcount())));
  }
  return h.finish_hex();
}

// Downloads one file into blobs/<id>.incomplete (resuming it with Range), checks it, and renames it to blobs/<id>.
void fetch_blob(const HubOptions& o, const std::string& url, const RemoteFile& file, const fs::path& blob, Shared& shared) {
  const fs::path part = fs::path(blob.string() + ".incomplete");
  long offset = fs::exists(part) ? static_cast<long>(fs::file_size(part)) : 0;
  if (file.size_known && static_cast<uint64_t>(offset) > file.size) {
    fs::remove(part);
    offset = 0;
  }
  const bool complete_part = file.size_known && static_cast<uint64_t>(offset) == file.size && offset > 0;
  if (!complete_part) {
    FILE* f = std::fopen(part.c_str(), "ab");
    if (!f) fail("{}: cannot write ({})", part.string(), std::strerror(errno));
    Handle h(o, url, offset > 0 ? fmt::format("{}-", offset) : std::string());
    FileSink sink{f, offset, &h, &shared};
    curl_easy_setopt(h.c, CURLOPT_WRITEFUNCTION, write_file);
    curl_easy_setopt(h.c, CURLOPT_WRITEDATA, &sink);
    const CURLcode rc = curl_easy_perform(h.c);
    std::fclose(f);
    const long status = h.status();
    if (status == 416 && file.size_known && static_cast<uint64_t>(offset) == file.size) {
      // nothing left to fetch: the partial file is whole
    } else if (sink.error_status || (rc == CURLE_OK && status >= 400)) {
      std::error_code ec;
      if (fs::file_size(part, ec) == 0) fs::remove(part, ec);
      http_fail(o, file.path, url, status);
    } else if (rc != CURLE_OK) {
      const uint64_t have = fs::exists(part) ? fs::file_size(part) : 0;
      if (is_connect_error(rc) && have == 0) throw NetworkError(fmt::format("cannot reach {} ({})", o.endpoint, h.message(rc)));
      fail("{}: download interrupted at {} bytes ({}); run the same command again to resume from {}", file.path, have,
           h.message(rc), part.string());
    }
  }
  const uint64_t got = fs::file_size(part);
  if (file.size_known && got != file.size) {
    fs::remove(part);
    fail("{}: size mismatch: expected {} bytes, got {}; the partial blob was deleted", file.path, file.size, got);
  }
  if (!file.sha256.empty()) {
    const std::string digest = file_sha256(part);
    if (digest != file.sha256) {
      fs::remove(part);
      fail("{}: SHA-256 mismatch: expected {}, got {}; the partial blob was deleted, nothing was added to the snapshot",
           file.path, file.sha256, digest);
    }
  }
  fs::rename(part, blob);
}

std::vector<RemoteFile> list_files(const HubOptions& o, const std::string& repo, const std::string& commit,
                                   const nlohmann::json& info) {
  std::map<std::string, RemoteFile> by_path;
  for (const auto& s : info.value("siblings", nlohmann::json::array())) {
    RemoteFile f;
    f.path = s.value("rfilename", "");
    if (!f.path.empty()) by_path[f.path] = f;
  }
  // Sizes, git blob ids and LFS SHA-256 from the tree API (paginated with Link: rel="next").
  std::string url = fmt::format("{}/api/models/{}/tree/{}?recursive=true&expand=false", o.endpoint, repo, commit);
  while (!url.empty()) {
    const TextResponse r = get_text(o, url);
    if (r.status != 200) http_fail(o, repo + "@" + commit, url, r.status);
    nlohmann::json tree;
    try {
      tree = nlohmann::json::parse(r.body);
    } catch (const std::exception& e) {
      fail("{}: not JSON ({})", url, e.what());
    }
    for (const auto& e : tree) {
      if (e.value("type", "") != "file") continue;
      RemoteFile f;
      f.path = e.value("path", "");
      f.blob_id = e.value("oid", "");
      if (e.contains("size")) {
        f.size = e["size"].get<uint64_t>();
        f.size_known = true;
      }
      if (e.contains("lfs") && e["lfs"].is_object()) {
        f.sha256 = e["lfs"].value("oid", "");
        f.blob_id = f.sha256;
        if (e["lfs"].contains("size")) f.size = e["lfs"]["size"].get<uint64_t>();
      }
      if (!f.path.empty()) by_path[f.path] = f;
    }
    url = r.next_link;
  }
  std::vector<RemoteFile> out;
  for (auto& [path, f] : by_path) {
    if (f.blob_id.empty()) fail("{}: {} has no blob id in the hub's tree listing", repo, path);
    if (f.blob_id.find('/') != std::string::npos || f.blob_id.find("..") != std::string::npos)
      fail("{}: {} has a malformed blob id", repo, path);
    if (path.find("..") != std::string::npos || path.front() == '/') fail("{}: unsafe file path '{}' in the listing", repo, path);
    out.push_back(f);
  }
  return out;
}

bool matches(const std::vector<std::string>& include, const std::string& path) {
  if (include.empty()) return true;
  for (const auto& g : include)
    if (glob_match(g, path)) return true;
  return false;
}

std::string read_ref(const fs::path& repo_dir, const std::string& revision) {
  if (is_commit(revision)) return revision;
  std::ifstream in(repo_dir / "refs" / revision);
  std::string commit;
  in >> commit;
  return commit;
}

}  // namespace

bool glob_match(const std::string& pattern, const std::string& path) {
  return ::fnmatch(pattern.c_str(), path.c_str(), 0) == 0;
}

HubOptions options_from_env() {
  HubOptions o;
  o.endpoint = env("HF_ENDPOINT");
  if (o.endpoint.empty()) o.endpoint = "https://huggingface.co";
  while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
  const std::string home = env("HF_HOME").empty() ? (env("XDG_CACHE_HOME").empty() ? env("HOME") + "/.cache" : env("XDG_CACHE_HOME")) + "/huggingface"
                                                  : env("HF_HOME");
  o.cache_dir = env("HF_HUB_CACHE").empty() ? fs::path(home) / "hub" : fs::path(env("HF_HUB_CACHE"));
  o.token = env("HF_TOKEN");
  if (o.token.empty()) {
    std::ifstream in(fs::path(home) / "token");
    std::getline(in, o.token);
  }
  const std::string off = env("HF_HUB_OFFLINE");
  o.offline = off == "1" || off == "true" || off == "TRUE";
  o.progress = ::isatty(STDERR_FILENO) == 1;
  return o;
}

bool is_repo_id(const std::string& text) {
  if (text.empty() || text.front() == '/' || text.front() == '.' || text.back() == '/') return false;
  int slashes = 0;
  for (char c : text) {
    if (c == '/') ++slashes;
    else if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return slashes <= 1 && text.find("..") == std::string::npos && text.find("--") == std::string::npos;
}

fs::path repo_cache_dir(const fs::path& cache, const std::string& repo) {
  std::string name = "models--" + repo;
  for (size_t p; (p = name.find('/')) != std::string::npos;) name.replace(p, 1, "--");
  return cache / name;
}

std::optional<fs::path> cached_snapshot(const HubOptions& o, const std::string& repo, const std::string& revision) {
  const fs::path dir = repo_cache_dir(o.cache_dir, repo);
  const std::string commit = read_ref(dir, revision);
  if (commit.empty()) return std::nullopt;
  const fs::path snap = dir / "snapshots" / commit;
  std::error_code ec;
  if (!fs::is_directory(snap, ec)) return std::nullopt;
  bool any = false;
  for (auto it = fs::recursive_directory_iterator(snap, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return std::nullopt;
    if (it->is_directory()) continue;
    if (!fs::exists(it->path())) return std::nullopt;  // a dangling link: a blob is missing
    any = true;
  }
  if (!any) return std::nullopt;
  return snap;
}

DownloadResult download(const DownloadRequest& req, const HubOptions& o) {
  if (!is_repo_id(req.repo)) fail("'{}' is not a repository id (ORG/NAME)", req.repo);
  const fs::path repo_dir = repo_cache_dir(o.cache_dir, req.repo);
  auto from_cache = [&](const std::string& why) -> DownloadResult {
    auto snap = cached_snapshot(o, req.repo, req.revision);
    if (!snap) fail("{}; no cached snapshot of {}@{} in {}", why, req.repo, req.revision, repo_dir.string());
    DownloadResult r;
    r.snapshot = *snap;
    r.commit = snap->filename().string();
    r.offline = true;
    for (auto& e : fs::recursive_directory_iterator(*snap))
      if (!e.is_directory() && matches(req.include, e.path().lexically_relative(*snap).string()))
        r.files.push_back(e.path().lexically_relative(*snap).string());
    if (r.files.empty()) fail("{}; the cached snapshot {} has no file matching --include", why, snap->string());
    r.cached_files = static_cast<int>(r.files.size());
    return r;
  };
  if (o.offline) return from_cache("HF_HUB_OFFLINE is set");

  CURL* esc = (curl_init_once(), curl_easy_init());
  std::unique_ptr<CURL, void (*)(CURL*)> esc_guard(esc, curl_easy_cleanup);
  char* rev_e = curl_easy_escape(esc, req.revision.c_str(), static_cast<int>(req.revision.size()));
  const std::string rev_escaped = rev_e;
  curl_free(rev_e);
  const std::string info_url = fmt::format("{}/api/models/{}/revision/{}", o.endpoint, req.repo, rev_escaped);
  TextResponse info_r;
  try {
    info_r = get_text(o, info_url);
  } catch (const NetworkError& e) {
    return from_cache(e.what());
  }
  if (info_r.status != 200) http_fail(o, req.repo + "@" + req.revision, info_url, info_r.status);
  nlohmann::json info;
  try {
    info = nlohmann::json::parse(info_r.body);
  } catch (const std::exception& e) {
    fail("{}: not JSON ({})", info_url, e.what());
  }
  const std::string commit = info.value("sha", "");
  if (!is_commit(commit)) fail("{}: no commit sha in the answer", info_url);

  std::vector<RemoteFile> files;
  for (auto& f : list_files(o, req.repo, commit, info))
    if (matches(req.include, f.path)) files.push_back(f);
  if (files.empty()) fail("{}@{}: no file matches --include", req.repo, req.revision);

  fs::create_directories(repo_dir / "blobs");
  fs::create_directories(repo_dir / "refs");
  const fs::path snap = repo_dir / "snapshots" / commit;

  DownloadResult result;
  result.snapshot = snap;
  result.commit = commit;
  Shared shared;
  std::vector<size_t> todo;
  uint64_t total = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    const fs::path blob = repo_dir / "blobs" / files[i].blob_id;
    if (fs::exists(blob) && (!files[i].size_known || fs::file_size(blob) == files[i].size)) {
      ++result.cached_files;
    } else {
      todo.push_back(i);
      total += files[i].size;
    }
  }
  if (o.progress && !todo.empty()) shared.bar.emplace("download " + req.repo, total, true);
  {
    std::atomic<size_t> next{0};
    std::mutex err_mu;
    std::string first_error;
    bool network_error = false;
    auto worker = [&] {
      for (size_t k; (k = next++) < todo.size();) {
        const RemoteFile& f = files[todo[k]];
        const std::string url = fmt::format("{}/{}/resolve/{}/{}", o.endpoint, req.repo, commit, escape_path(esc, f.path));
        try {
          fetch_blob(o, url, f, repo_dir / "blobs" / f.blob_id, shared);
        } catch (const std::exception& e) {
          std::lock_guard lock(err_mu);
          if (first_error.empty()) {
            first_error = e.what();
            network_error = dynamic_cast<const NetworkError*>(&e) != nullptr;
          }
          next = todo.size();  // stop handing out files; running ones finish
        }
      }
    };
    std::vector<std::thread> pool;
    const int n = std::max(1, std::min<int>(o.parallel, static_cast<int>(todo.size())));
    for (int t = 0; t < n; ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
    if (shared.bar) shared.bar->finish();
    if (!first_error.empty()) {
      if (network_error) fail("{}; partial files kept in {} (run again to resume)", first_error, (repo_dir / "blobs").string());
      throw Error(first_error);
    }
  }
  // Only verified blobs get snapshot entries: relative symlinks as huggingface_hub makes them.
  for (const auto& f : files) {
    const fs::path link = snap / f.path;
    fs::create_directories(link.parent_path());
    fs::path target = fs::path("..") / "..";
    for (size_t d = 0, p = 0; (p = f.path.find('/', p)) != std::string::npos; ++p, ++d) target /= "..";
    target /= fs::path("blobs") / f.blob_id;
    std::error_code ec;
    fs::remove(link, ec);
    fs::create_symlink(target, link);
    result.files.push_back(f.path);
  }
  if (!is_commit(req.revision) || req.revision != commit) {
    const fs::path ref = repo_dir / "refs" / req.revision;
    fs::create_directories(ref.parent_path());
    std::ofstream(ref, std::ios::trunc) << commit;
  }
  result.downloaded_bytes = shared.downloaded;
  if (!req.output.empty()) {
    for (const auto& f : files) {
      const fs::path dst = req.output / f.path;
      fs::create_directories(dst.parent_path());
      fs::copy_file(repo_dir / "blobs" / f.blob_id, dst, fs::copy_options::overwrite_existing);
    }
  }
  return result;
}

const std::vector<std::string>& default_model_patterns() {
  static const std::vector<std::string> p = {"*.json", "*.safetensors", "*.gguf", "tokenizer.model", "*.txt", "*.jinja"};
  return p;
}

std::string resolve_model(const std::string& path_or_repo, const HubOptions& o) {
  std::error_code ec;
  if (fs::exists(path_or_repo, ec)) return path_or_repo;
  std::string repo = path_or_repo, revision = "main";
  if (const size_t at = repo.find('@'); at != std::string::npos) {
    revision = repo.substr(at + 1);
    repo = repo.substr(0, at);
  }
  if (!is_repo_id(repo) || repo.find('/') == std::string::npos) return path_or_repo;  // the caller reports the missing path
  if (auto snap = cached_snapshot(o, repo, revision)) return snap->string();
  DownloadRequest req;
  req.repo = repo;
  req.revision = revision;
  req.include = default_model_patterns();
  try {
    return download(req, o).snapshot.string();
  } catch (const Error& e) {
    fail("{}: no such file or folder, and as a hub repository id: {}", path_or_repo, e.what());
  }
}

std::string resolve_model(const std::string& path_or_repo) {
  std::error_code ec;
  if (fs::exists(path_or_repo, ec)) return path_or_repo;
  return resolve_model(path_or_repo, options_from_env());
}

}  // namespace lp::hub
