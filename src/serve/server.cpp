#include "serve/server.h"

#include <httplib.h>

#include <chrono>
#include <mutex>
#include <random>

#include "core/error.h"
#include "serve/chat_prompt.h"
#include "serve/constraints.h"

namespace lp::serve {
namespace {

using nlohmann::json;

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

}  // namespace

struct Server::Impl {
  Runtime& rt;
  ServerOptions opt;
  httplib::Server http;
  const ModelInfo info;   // read once: /v1/models never waits for a generation
  std::mutex generation;  // one Runtime, one KV cache: one generation at a time
  int port = -1;

  Impl(Runtime& r, ServerOptions o) : rt(r), opt(std::move(o)), info(r.info()) {
    const int n = std::max(1, opt.http_threads);
    http.new_task_queue = [n] { return new httplib::ThreadPool(static_cast<size_t>(n)); };
    // SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, which lets a second server bind a port that
    // is already serving and silently share its connections.
    http.set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (opt.api_key.empty() || req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
      if (req.get_header_value("Authorization") == "Bearer " + opt.api_key) return httplib::Server::HandlerResponse::Unhandled;
      send_error(res, ApiError(401, "invalid_request_error", "", "missing or wrong API key (Authorization: Bearer ...)"));
      return httplib::Server::HandlerResponse::Handled;
    });
    http.Get("/health", [](const httplib::Request&, httplib::Response& res) { send_json(res, 200, {{"status", "ok"}}); });
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) { models(res); });
    http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) { generate(req, res, true); });
    http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) { generate(req, res, false); });
    http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (res.status == 404 && res.body.empty())
        send_error(res, ApiError(404, "invalid_request_error", "", "no route " + req.method + " " + req.path));
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

  void models(httplib::Response& res) {
    send_json(res, 200,
              {{"object", "list"},
               {"data", json::array({{{"id", opt.model_name},
                                      {"object", "model"},
                                      {"created", unix_seconds()},
                                      {"owned_by", "llama-pajamas"},
                                      {"meta", {{"architecture", info.architecture}, {"n_ctx", info.ctx}, {"n_vocab", info.n_vocab}}}}})}});
  }

  // Prompt tokens for a request, checked against the context: the chat template's rendering (which writes
  // BOS itself) or the raw prompt (+ BOS when the vocabulary asks for it).
  std::vector<int32_t> prompt_tokens(GenerationRequest& r, bool chat, ChatPrompt& cp) {
    std::vector<int32_t> tokens;
    try {
      if (chat) {
        // Tools, tool-call history and template kwargs through the model's template (serve/chat_prompt.h);
        // constraints (response_format, forced tool calls) and logprobs (serve/constraints.h).
        cp = render_chat_prompt(rt.chat_template_info(), r);
        tokens = rt.tokenize(cp.text, false, true);
      } else {
        tokens = rt.tokenize(r.prompt, r.config.add_bos, true);
      }
      configure_generation(rt, r, chat ? &cp : nullptr);
    } catch (const Error& e) {  // a template that rejects this conversation, or no template at all
      throw ApiError::invalid(chat ? "messages" : "prompt", e.what());
    }
    const int ctx = info.ctx;
    if (tokens.empty()) throw ApiError::invalid(chat ? "messages" : "prompt", "the prompt is empty");
    if (static_cast<int>(tokens.size()) >= ctx)
      throw ApiError::invalid(chat ? "messages" : "prompt",
                              fmt::format("the prompt has {} tokens but the context holds {} (start the server with a larger --ctx)", tokens.size(), ctx));
    return tokens;
  }

  void generate(const httplib::Request& req, httplib::Response& res, bool chat) {
    GenerationRequest r;
    std::vector<int32_t> tokens;
    ChatPrompt cp;
    try {
      r = chat ? parse_chat_request(req.body, opt.defaults) : parse_completion_request(req.body, opt.defaults);
      std::lock_guard lock(generation);
      tokens = prompt_tokens(r, chat, cp);
    } catch (const ApiError& e) {
      return send_error(res, e);
    }
    const ResponseIds ids{random_id(chat ? "chatcmpl-" : "cmpl-"), unix_seconds(), r.model.empty() ? opt.model_name : r.model};
    if (!r.stream) {
      GenerationResult result;
      {
        std::lock_guard lock(generation);
        result = rt.generate_tokens(tokens, r.config);
      }
      json body = chat ? chat_completion(ids, result, reply_message(cp, r, result.text)) : text_completion(ids, result);
      if (r.top_logprobs >= 0) body["choices"][0]["logprobs"] = response_logprobs(rt, result.logprobs, chat);
      return send_json(res, 200, body);
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider("text/event-stream", [this, r, tokens, ids, chat, cp](size_t, httplib::DataSink& sink) {
      auto write = [&](const std::string& s) { return sink.write(s.data(), s.size()); };
      const char* object = chat ? "chat.completion.chunk" : "text_completion";
      bool open = !chat || write(sse_event(chat_chunk(ids, {{"role", "assistant"}, {"content", ""}}, std::nullopt)));
      GenerationResult result;
      // Chat replies go through the tool-call / reasoning parser; logprobs of the tokens since the last chunk
      // ride on the next chunk.
      ReplyDeltas deltas(cp, r);
      StreamLogprobs pending(rt, r, chat);
      InferenceConfig config = r.config;
      if (r.top_logprobs >= 0) config.on_logprob = [&](const TokenLogprob& t) { pending.add(t); };
      auto send = [&](json chunk) {
        pending.attach(chunk);
        open = write(sse_event(chunk));
      };
      if (open) {
        try {
          std::lock_guard lock(generation);
          // A client that hangs up stops the generation at the next piece (write fails).
          result = rt.generate_tokens(tokens, config, [&](std::string_view piece) {
            if (!chat) {
              send(text_chunk(ids, piece, std::nullopt));
            } else {
              for (auto& d : deltas.feed(piece))
                if (open) send(chat_chunk(ids, d, std::nullopt));
            }
            return open;
          });
          if (chat)
            for (auto& d : deltas.finish())
              if (open) send(chat_chunk(ids, d, std::nullopt));
        } catch (const std::exception& e) {  // headers are sent: report it in the stream, as OpenAI does
          if (open) write(sse_event(error_body(ApiError(500, "server_error", "", e.what()))));
          sink.done();
          return true;
        }
      }
      if (open) {
        const std::string finish = chat ? chat_finish_reason(result.stop_reason, deltas.message()) : finish_reason(result.stop_reason);
        send(chat ? chat_chunk(ids, json::object(), finish) : text_chunk(ids, "", finish));
        if (open && r.include_usage) open = write(sse_event(usage_chunk(ids, object, result)));
        if (open) write(std::string(kSseDone));
      }
      sink.done();
      return true;
    });
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
  return port;
}

void Server::run() {
  if (impl_->port < 0) fail("Server::run() before bind()");
  impl_->http.listen_after_bind();
}

void Server::stop() {
  if (impl_->http.is_running()) impl_->http.stop();
}

}  // namespace lp::serve
