#include "serve/server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "core/error.h"
#include "serve/chat_prompt.h"
#include "serve/constraints.h"

namespace lp::serve {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string random_id(const char* prefix) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = prefix;
  for (int i = 0; i < 24; ++i) id += kHex[rng() & 15];
  return id;
}

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) { send_json(res, e.status, error_body(e)); }

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Compares in time independent of where the strings differ (the API key).
bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? a[i] : 0, y = i < b.size() ? b[i] : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

bool is_loopback_host(const std::string& host) { return host == "127.0.0.1" || host == "localhost" || host == "::1"; }

// "host:port", "[::1]:port" or "host" -> host, lower case.
std::string host_of(const std::string& authority) {
  std::string h = authority;
  if (!h.empty() && h[0] == '[') {
    const auto e = h.find(']');
    return lower(e == std::string::npos ? h : h.substr(1, e - 1));
  }
  if (const auto c = h.rfind(':'); c != std::string::npos) h.resize(c);
  return lower(h);
}

// Text of one choice for the OpenAI response builders, which build one choice: rebuild with index i.
json with_index(json choice, int i) {
  choice["index"] = i;
  return choice;
}

// "ip:port" of a socket address, spelled as httplib spells Request::remote_addr / remote_port.
std::string address_text(const sockaddr_storage& a) {
  char ip[INET6_ADDRSTRLEN] = {0};
  int port = 0;
  if (a.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&a);
    inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof(ip));
    port = ntohs(v4->sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a);
    inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof(ip));
    port = ntohs(v6->sin6_port);
  } else {
    return "";
  }
  return std::string(ip) + ":" + std::to_string(port);
}

// Total-request deadlines, which cpp-httplib lacks (its timeouts are per read, so a client sending one byte a
// second holds a thread forever): a watcher lists this process's sockets connected to our port (Linux
// /proc/self/fd) and shuts down each one that has been reading a request longer than the deadline. A connection
// is "reading" from when it is first seen, or from the end of its previous response (keep-alive), until its
// request reaches the router.
class RequestDeadlines {
 public:
  RequestDeadlines(int port, double deadline_s) : port_(port), deadline_(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(deadline_s))) {
    thread_ = std::thread([this] { run(); });
  }
  ~RequestDeadlines() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void routed(const std::string& peer) {
    std::lock_guard lk(mu_);
    reading_.erase(peer);
    routed_.insert(peer);
  }
  void responded(const std::string& peer) {
    std::lock_guard lk(mu_);
    routed_.erase(peer);
    reading_[peer] = Clock::now();
  }
  uint64_t closed() const { return closed_; }

 private:
  void run() {
    std::unique_lock lk(mu_);
    while (!cv_.wait_for(lk, std::chrono::milliseconds(250), [&] { return stop_; })) {
      const auto now = Clock::now();
      std::set<std::string> seen;
      DIR* d = opendir("/proc/self/fd");
      if (!d) return;  // not Linux: per-read timeouts only
      while (dirent* e = readdir(d)) {
        const int fd = std::atoi(e->d_name);
        if (fd <= 2 || fd == dirfd(d)) continue;
        struct stat st{};
        if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
        sockaddr_storage local{}, peer{};
        socklen_t ll = sizeof(local), pl = sizeof(peer);
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &ll) != 0 || getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) != 0) continue;
        const std::string l = address_text(local), p = address_text(peer);
        if (l.empty() || p.empty() || l.substr(l.rfind(':') + 1) != std::to_string(port_)) continue;
        seen.insert(p);
        if (routed_.count(p)) continue;
        auto [it, fresh] = reading_.try_emplace(p, now);
        if (!fresh && now - it->second > deadline_) {
          ::shutdown(fd, SHUT_RDWR);  // the blocked read returns, httplib closes the connection
          ++closed_;
          reading_.erase(it);
        }
      }
      closedir(d);
      for (auto it = reading_.begin(); it != reading_.end();) it = seen.count(it->first) ? std::next(it) : reading_.erase(it);
      for (auto it = routed_.begin(); it != routed_.end();) it = seen.count(*it) ? std::next(it) : routed_.erase(it);
    }
  }
  int port_;
  Clock::duration deadline_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::map<std::string, Clock::time_point> reading_;
  std::set<std::string> routed_;
  std::atomic<uint64_t> closed_{0};
  std::thread thread_;
};

std::string peer_of(const httplib::Request& req) { return req.remote_addr + ":" + std::to_string(req.remote_port); }

}  // namespace

struct Server::Impl {
  Runtime& rt;
  ServerOptions opt;
  httplib::Server http;
  const ModelInfo info;   // read once: /v1/models never waits for a generation
  Scheduler sched;
  size_t max_token_bytes = 1;  // longest vocabulary entry in bytes: bounds tokens from bytes before tokenizing
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> http_requests{0}, http_errors{0};
  std::unique_ptr<RequestDeadlines> deadlines;  // from bind()
  std::mutex stop_mu;                           // stop() from several threads (signal watcher, destructor)
  int port = -1;

  static SchedulerOptions sched_options(const ServerOptions& o) {
    SchedulerOptions s;
    s.parallel = o.parallel > 0 ? o.parallel : 4;
    s.max_queue = o.max_queue;
    return s;
  }

  Impl(Runtime& r, ServerOptions o) : rt(r), opt(std::move(o)), info(r.info()), sched(r, sched_options(opt)) {
    opt.parallel = sched.parallel();
    try {
      for (int id = 0; id < info.n_vocab; ++id) max_token_bytes = std::max(max_token_bytes, rt.detokenize(std::span<const int32_t>(&id, 1)).size());
    } catch (const std::exception&) {
      max_token_bytes = 1u << 20;  // no tokenizer: no early bound
    }
    const int n = opt.http_threads > 0 ? opt.http_threads : opt.parallel + std::max(0, opt.max_queue) + 8;
    http.new_task_queue = [n] { return new httplib::ThreadPool(static_cast<size_t>(n)); };
    http.set_payload_max_length(opt.max_body_bytes);
    const auto rt_s = static_cast<time_t>(std::max(1.0, opt.read_timeout_s));
    http.set_read_timeout(rt_s, 0);
    http.set_write_timeout(rt_s, 0);
    http.set_keep_alive_timeout(std::min<time_t>(rt_s, 5));
    // SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, which lets a second server bind a port that
    // is already serving and silently share its connections.
    http.set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      ++http_requests;
      if (deadlines) deadlines->routed(peer_of(req));
      if (auto e = refuse(req)) {
        send_error(res, *e);
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    http.Get("/health", [this](const httplib::Request&, httplib::Response& res) { health(res); });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) { metrics(res); });
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) { models(res); });
    http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) { generate(req, res, true); });
    http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) { generate(req, res, false); });
    http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (res.status >= 400) ++http_errors;
      if (!res.body.empty()) return;
      if (res.status == 404) send_error(res, ApiError(404, "invalid_request_error", "", "no route " + req.method + " " + req.path));
      else if (res.status == 413)
        send_error(res, ApiError(413, "invalid_request_error", "", fmt::format("the request body is larger than {} bytes (--max-body)", opt.max_body_bytes)));
      else
        send_error(res, ApiError(res.status, "invalid_request_error", "", fmt::format("HTTP {}", res.status)));
    });
    http.set_logger([this](const httplib::Request& req, const httplib::Response&) {  // after the response
      if (deadlines) deadlines->responded(peer_of(req));
    });
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "internal error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      send_error(res, ApiError(500, "server_error", "", what));
    });
  }

  // Checks every request passes before routing: API key (constant time, case-insensitive scheme), then for a
  // loopback bind the Host and Origin (DNS rebinding, cross-site pages), then JSON bodies for POST.
  std::optional<ApiError> refuse(const httplib::Request& req) {
    if (!opt.api_key.empty() && req.path != "/health") {
      const std::string auth = req.get_header_value("Authorization");
      const bool bearer = auth.size() > 7 && lower(auth.substr(0, 7)) == "bearer ";
      std::string_view key = bearer ? std::string_view(auth).substr(7) : std::string_view();
      while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
      if (!bearer || !constant_time_equal(key, opt.api_key))
        return ApiError(401, "invalid_request_error", "", "missing or wrong API key (Authorization: Bearer ...)");
    }
    if (is_loopback_host(opt.host)) {
      if (req.has_header("Host") && !is_loopback_host(host_of(req.get_header_value("Host"))))
        return ApiError(403, "invalid_request_error", "", "Host '" + req.get_header_value("Host") + "' is not this loopback server (DNS rebinding?)");
      if (req.has_header("Origin")) {
        std::string origin = req.get_header_value("Origin");
        const auto scheme = origin.find("://");
        if (origin == "null" || scheme == std::string::npos || !is_loopback_host(host_of(origin.substr(scheme + 3))))
          return ApiError(403, "invalid_request_error", "", "cross-origin requests from '" + origin + "' are refused on a loopback server");
      }
    }
    if (req.method == "POST") {
      const std::string ct = lower(req.get_header_value("Content-Type"));
      if (ct.rfind("application/json", 0) != 0)
        return ApiError(415, "invalid_request_error", "", "Content-Type must be application/json (got '" + req.get_header_value("Content-Type") + "')");
    }
    return std::nullopt;
  }

  void health(httplib::Response& res) {
    const SchedulerStats s = sched.stats();
    send_json(res, 200,
              {{"status", stopping ? "stopping" : "ok"},
               {"slots_total", s.slots},
               {"slots_idle", s.slots - s.busy_slots},
               {"slots_processing", s.busy_slots},
               {"queue", s.queued},
               {"max_queue", opt.max_queue},
               {"slot_ctx", s.slot_ctx}});
  }

  void metrics(httplib::Response& res) {
    const SchedulerStats s = sched.stats();
    std::string out;
    auto metric = [&](const char* name, const char* type, const char* help, double value) {
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
    };
    metric("lp_requests_total", "counter", "generation requests accepted", double(s.requests));
    metric("lp_requests_finished_total", "counter", "generation requests finished (any reason)", double(s.requests_finished));
    metric("lp_requests_cancelled_total", "counter", "generation requests cancelled (client gone, shutdown)", double(s.requests_cancelled));
    metric("lp_requests_rejected_total", "counter", "requests refused because the queue was full (503)", double(s.requests_rejected));
    metric("lp_http_requests_total", "counter", "HTTP requests received", double(http_requests));
    metric("lp_http_errors_total", "counter", "HTTP answers with a 4xx/5xx status", double(http_errors));
    metric("lp_http_slow_requests_closed_total", "counter", "connections closed for not sending their request in time",
           deadlines ? double(deadlines->closed()) : 0.0);
    metric("lp_prompt_tokens_total", "counter", "prompt tokens of admitted requests", double(s.prompt_tokens));
    metric("lp_prompt_tokens_cached_total", "counter", "prompt tokens reused from the KV cache", double(s.prompt_tokens_cached));
    metric("lp_generated_tokens_total", "counter", "tokens generated", double(s.generated_tokens));
    metric("lp_generated_tokens_per_second", "gauge", "generated tokens per second of busy engine time",
           s.busy_seconds > 0 ? double(s.generated_tokens) / s.busy_seconds : 0.0);
    metric("lp_engine_busy_seconds_total", "counter", "seconds spent in forward passes and sampling", s.busy_seconds);
    metric("lp_engine_steps_total", "counter", "batched forward passes", double(s.steps));
    metric("lp_queue_depth", "gauge", "requests waiting for a slot", double(s.queued));
    metric("lp_slots_total", "gauge", "slots (--parallel)", double(s.slots));
    metric("lp_slots_busy", "gauge", "slots generating", double(s.busy_slots));
    metric("lp_kv_cells_total", "gauge", "KV cache cells (slots x per-slot context)", double(s.kv_cells_total));
    metric("lp_kv_cells_used", "gauge", "KV cells holding cached tokens (busy slots and prefixes kept for reuse)", double(s.kv_cells_used));
    metric("lp_kv_cells_busy", "gauge", "KV cells of busy slots", double(s.kv_cells_busy));
    res.status = 200;
    res.set_content(out, "text/plain; version=0.0.4");
  }

  void models(httplib::Response& res) {
    send_json(res, 200,
              {{"object", "list"},
               {"data", json::array({{{"id", opt.model_name},
                                      {"object", "model"},
                                      {"created", unix_seconds()},
                                      {"owned_by", "llama-pajamas"},
                                      {"meta", {{"architecture", info.architecture}, {"n_ctx", sched.slot_ctx()}, {"n_vocab", info.n_vocab},
                                                {"parallel", opt.parallel}}}}})}});
  }

  // Message content is text: only the chat template's own markers may become control tokens. When a message
  // holds the text of a special token (`<|im_end|>`), the rendered prompt is tokenized in pieces: the spans
  // that are message content without special-token parsing, the template's text around them with it.
  std::vector<int32_t> chat_tokens(const GenerationRequest& r, const std::string& rendered) {
    std::vector<std::pair<size_t, size_t>> spans;  // content spans of messages that hold special-token text
    size_t cursor = 0;
    for (size_t i = 0; i < r.messages.size(); ++i) {
      const std::string& c = r.messages[i].content;
      if (c.empty()) continue;
      const bool special = rt.tokenize(c, false, true) != rt.tokenize(c, false, false);
      const size_t at = rendered.find(c, cursor);
      if (!special) {
        if (at != std::string::npos) cursor = at + c.size();
        continue;
      }
      if (at == std::string::npos)
        throw ApiError::invalid(fmt::format("messages[{}].content", i),
                                "the content holds special-token text and the chat template changes it, so it cannot be kept as text");
      spans.emplace_back(at, at + c.size());
      cursor = at + c.size();
    }
    if (spans.empty()) return rt.tokenize(rendered, false, true);
    std::vector<int32_t> out;
    size_t pos = 0;
    auto add = [&](size_t b, size_t e, bool parse_special) {
      if (e <= b) return;
      const auto t = rt.tokenize(std::string_view(rendered).substr(b, e - b), false, parse_special);
      out.insert(out.end(), t.begin(), t.end());
    };
    for (const auto& [b, e] : spans) {
      add(pos, b, true);
      add(b, e, false);
      pos = e;
    }
    add(pos, rendered.size(), true);
    return out;
  }

  // Prompt tokens for a request, checked against a slot's context: refused by byte length before tokenizing
  // (every token is at most max_token_bytes long), then by token count.
  // Chat: the model's template with tools, tool-call history and template kwargs (serve/chat_prompt.h), into cp.
  std::vector<int32_t> prompt_tokens(const GenerationRequest& r, bool chat, ChatPrompt& cp) {
    const char* field = chat ? "messages" : "prompt";
    const int ctx = sched.slot_ctx();
    size_t bytes = r.prompt.size();
    for (const auto& m : r.messages) bytes += m.content.size();
    if (bytes / max_token_bytes >= static_cast<size_t>(ctx))
      throw ApiError::invalid(field, fmt::format("the prompt has {} bytes, at least {} tokens, but a slot's context holds {} (start the server with a larger --ctx)",
                                                 bytes, bytes / max_token_bytes, ctx));
    std::vector<int32_t> tokens;
    try {
      if (chat) {
        cp = render_chat_prompt(rt.chat_template_info(), r);
        tokens = chat_tokens(r, cp.text);
      } else {
        tokens = rt.tokenize(r.prompt, r.config.add_bos, true);  // a raw prompt is the client's own template
      }
    } catch (const Error& e) {  // a template that rejects this conversation, or no template at all
      throw ApiError::invalid(field, e.what());
    }
    if (tokens.empty()) throw ApiError::invalid(field, "the prompt is empty");
    if (static_cast<int>(tokens.size()) >= ctx)
      throw ApiError::invalid(field, fmt::format("the prompt has {} tokens but a slot's context holds {} (start the server with a larger --ctx)", tokens.size(), ctx));
    return tokens;
  }

  std::shared_ptr<Scheduler::Job> submit(const GenerationRequest& r, std::vector<int32_t> tokens) {
    if (stopping) throw ApiError(503, "server_error", "", "the server is shutting down");
    if (r.n > opt.parallel)
      throw ApiError::invalid("n", fmt::format("'n' = {} is more than the {} sequences this server decodes at once (--parallel)", r.n, opt.parallel));
    Scheduler::Submission sub;
    sub.prompt = std::move(tokens);
    sub.config = r.config;
    sub.n = r.n;
    if (opt.request_timeout_s > 0)
      sub.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.request_timeout_s));
    try {
      return sched.submit(std::move(sub));
    } catch (const SchedulerFull& e) {
      throw ApiError(503, "server_error", "", e.what());
    } catch (const Error& e) {
      if (stopping) throw ApiError(503, "server_error", "", "the server is shutting down");
      throw ApiError::invalid("", e.what());
    }
  }

  // What the answer needs from the request: the ids, the request itself, the chat prompt (reply parsing).
  struct Reply {
    ResponseIds ids;
    GenerationRequest r;
    ChatPrompt cp;
    bool chat = false;
  };

  json completion_body(const Reply& q, const std::vector<GenerationResult>& results) {
    auto one = [&](size_t i) {
      json c = (q.chat ? chat_completion(q.ids, results[i], reply_message(q.cp, q.r, results[i].text)) : text_completion(q.ids, results[i]))["choices"][0];
      if (q.r.top_logprobs >= 0) c["logprobs"] = response_logprobs(rt, results[i].logprobs, q.chat);
      return with_index(std::move(c), int(i));
    };
    json j = q.chat ? chat_completion(q.ids, results[0], reply_message(q.cp, q.r, results[0].text)) : text_completion(q.ids, results[0]);
    j["choices"] = json::array();
    int64_t completion = 0;
    for (size_t i = 0; i < results.size(); ++i) {
      completion += static_cast<int64_t>(results[i].tokens.size());
      j["choices"].push_back(one(i));
    }
    j["usage"]["completion_tokens"] = completion;
    j["usage"]["total_tokens"] = results[0].prompt_tokens + completion;
    return j;
  }

  static bool failed(const std::vector<GenerationResult>& results) {
    for (const auto& r : results)
      if (r.stop_reason == "error") return true;
    return false;
  }

  void generate(const httplib::Request& req, httplib::Response& res, bool chat) {
    GenerationRequest r;
    std::shared_ptr<Scheduler::Job> job;
    ChatPrompt cp;
    try {
      r = chat ? parse_chat_request(req.body, opt.defaults) : parse_completion_request(req.body, opt.defaults);
      std::vector<int32_t> tokens = prompt_tokens(r, chat, cp);
      // Constraints (response_format, forced tool calls), special-token text and logprobs (serve/constraints.h).
      configure_generation(rt, r, chat ? &cp : nullptr);
      job = submit(r, std::move(tokens));
    } catch (const ApiError& e) {
      return send_error(res, e);
    }
    auto q = std::make_shared<const Reply>(
        Reply{{random_id(chat ? "chatcmpl-" : "cmpl-"), unix_seconds(), r.model.empty() ? opt.model_name : r.model}, std::move(r), std::move(cp), chat});
    if (!q->r.stream) return respond(res, job, q);
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider("text/event-stream", [this, q, job](size_t, httplib::DataSink& sink) {
      stream(sink, *q, *job);
      return true;
    }, [job](bool) { job->cancel(); });  // the connection is gone (or the stream ended): free the slots
  }

  // Non-streaming: the answer when the job ends. While it runs, a client that hangs up must free its slot, and
  // only a write notices that: after a second without the answer the response starts (200, chunked) and a
  // space (JSON allows leading whitespace) goes out every second; a failed write cancels the job.
  void respond(httplib::Response& res, const std::shared_ptr<Scheduler::Job>& job, const std::shared_ptr<const Reply>& q) {
    std::vector<Scheduler::Piece> pieces;
    const auto t0 = Clock::now();
    while (Clock::now() - t0 < std::chrono::seconds(1) && job->wait(pieces, std::chrono::milliseconds(200))) pieces.clear();
    if (job->finished()) {
      const auto& results = job->results();
      if (failed(results)) return send_error(res, ApiError(500, "server_error", "", "the engine failed during generation"));
      return send_json(res, 200, completion_body(*q, results));
    }
    res.set_chunked_content_provider("application/json", [this, job, q](size_t, httplib::DataSink& sink) {
      std::vector<Scheduler::Piece> p;
      while (job->wait(p, std::chrono::seconds(1))) {
        p.clear();
        if (!job->finished() && !sink.write(" ", 1)) {
          job->cancel();
          return false;
        }
      }
      const auto& results = job->results();
      const json body = failed(results) ? error_body(ApiError(500, "server_error", "", "the engine failed during generation"))
                                        : completion_body(*q, results);
      const std::string s = body.dump(-1, ' ', false, json::error_handler_t::replace);
      sink.write(s.data(), s.size());
      sink.done();
      return true;
    }, [job](bool) { job->cancel(); });
  }

  // Streaming: chat text goes through each choice's tool-call / reasoning parser (ReplyDeltas), and the
  // logprobs of the tokens since a choice's last chunk ride on its next chunk (StreamLogprobs).
  void stream(httplib::DataSink& sink, const Reply& q, Scheduler::Job& job) {
    const GenerationRequest& r = q.r;
    const bool chat = q.chat;
    const ResponseIds& ids = q.ids;
    auto write = [&](const std::string& s) { return sink.write(s.data(), s.size()); };
    std::vector<ReplyDeltas> deltas;
    std::vector<StreamLogprobs> pending;
    deltas.reserve(size_t(r.n));
    pending.reserve(size_t(r.n));
    for (int i = 0; i < r.n; ++i) {
      if (chat) deltas.emplace_back(q.cp, r);
      pending.emplace_back(rt, r, chat);
    }
    bool open = true;
    auto send = [&](int i, json j) {
      j["choices"][0]["index"] = i;
      pending[size_t(i)].attach(j);
      open = write(sse_event(j));
    };
    const char* object = chat ? "chat.completion.chunk" : "text_completion";
    if (chat)
      for (int i = 0; open && i < r.n; ++i) {
        json j = chat_chunk(ids, {{"role", "assistant"}, {"content", ""}}, std::nullopt);
        j["choices"][0]["index"] = i;
        open = write(sse_event(j));
      }
    std::vector<Scheduler::Piece> pieces;
    while (open && job.wait(pieces, std::chrono::seconds(1))) {
      if (pieces.empty()) open = write(": keep-alive\n\n");  // notices a client that left while nothing was produced
      for (const auto& p : pieces) {
        if (!open) break;
        for (const auto& t : p.logprobs) pending[size_t(p.choice)].add(t);
        if (p.text.empty()) continue;  // logprobs wait for the next chunk
        if (!chat) {
          send(p.choice, text_chunk(ids, p.text, std::nullopt));
          continue;
        }
        for (auto& d : deltas[size_t(p.choice)].feed(p.text))
          if (open) send(p.choice, chat_chunk(ids, d, std::nullopt));
      }
      pieces.clear();
    }
    if (!open) {  // the client hung up: the slot is freed at the next step
      job.cancel();
      sink.done();
      return;
    }
    const auto& results = job.results();
    if (failed(results)) {
      write(sse_event(error_body(ApiError(500, "server_error", "", "the engine failed during generation"))));
      sink.done();
      return;
    }
    for (int i = 0; open && i < r.n; ++i) {
      std::string finish = finish_reason(results[size_t(i)].stop_reason);
      if (chat) {
        for (auto& d : deltas[size_t(i)].finish())
          if (open) send(i, chat_chunk(ids, d, std::nullopt));
        finish = chat_finish_reason(results[size_t(i)].stop_reason, deltas[size_t(i)].message());
      }
      if (open) send(i, chat ? chat_chunk(ids, json::object(), finish) : text_chunk(ids, "", finish));
    }
    if (open && r.include_usage) {
      json u = usage_chunk(ids, object, results[0]);
      int64_t completion = 0;
      for (const auto& x : results) completion += static_cast<int64_t>(x.tokens.size());
      u["usage"]["completion_tokens"] = completion;
      u["usage"]["total_tokens"] = results[0].prompt_tokens + completion;
      open = write(sse_event(u));
    }
    if (open) write(std::string(kSseDone));
    sink.done();
  }
};

Server::Server(Runtime& runtime, ServerOptions options) : impl_(std::make_unique<Impl>(runtime, std::move(options))) {}
Server::~Server() { stop(); }

int Server::bind() {
  auto& http = impl_->http;
  const auto& o = impl_->opt;
  if (o.port < 0 || o.port > 65535) fail("--port {} is not a TCP port (0-65535)", o.port);
  const int port = o.port == 0 ? http.bind_to_any_port(o.host) : (http.bind_to_port(o.host, o.port) ? o.port : -1);
  if (port <= 0) fail("cannot listen on {}:{} (address in use, or not an address of this machine)", o.host, o.port);
  impl_->port = port;
  if (o.request_read_deadline_s > 0) impl_->deadlines = std::make_unique<RequestDeadlines>(port, o.request_read_deadline_s);
  return port;
}

void Server::run() {
  if (impl_->port < 0) fail("Server::run() before bind()");
  impl_->http.listen_after_bind();
}

void Server::stop() {
  std::lock_guard lk(impl_->stop_mu);
  impl_->stopping = true;
  impl_->sched.shutdown();  // running and queued generations end now; their streams send a final chunk
  if (impl_->http.is_running()) impl_->http.stop();
  impl_->deadlines.reset();
}

SchedulerStats Server::stats() const { return impl_->sched.stats(); }

}  // namespace lp::serve
