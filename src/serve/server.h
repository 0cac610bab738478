// An OpenAI-compatible HTTP server around one lp::Runtime (cpp-httplib):
//   GET  /health, /v1/models
//   POST /v1/chat/completions, /v1/completions   (JSON, or server-sent events with "stream": true)
// One model, one KV cache: generations run one at a time, in arrival order; a conversation that continues the
// previous one reuses its cached prompt prefix. Errors are OpenAI-style JSON with 400/401/404/500.
#pragma once
#include <memory>
#include <string>

#include "llama_pajamas/runtime.h"
#include "serve/openai_api.h"

namespace lp::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;             // 0: any free port (bind() returns it)
  std::string model_name;      // the id /v1/models lists and responses carry
  std::string api_key;         // non-empty: require "Authorization: Bearer <key>"
  RequestDefaults defaults;    // for fields a request leaves out
  int http_threads = 4;        // connections served at once (generation itself is serialized)
};

class Server {
 public:
  Server(Runtime& runtime, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port; returns the port. Throws lp::Error naming the address when it cannot.
  int bind();
  // Serves until stop() (from another thread). bind() first.
  void run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lp::serve
