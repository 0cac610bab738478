// An OpenAI-compatible HTTP server around one lp::Runtime (cpp-httplib):
//   GET  /health (slot status), /metrics (Prometheus text), /v1/models
//   POST /v1/chat/completions, /v1/completions   (JSON, or server-sent events with "stream": true)
// Generation goes through an lp::Scheduler: `parallel` slots decode together (continuous batching), further
// requests wait in a bounded queue (503 beyond it). Errors are OpenAI-style JSON (400/401/403/404/413/415/503/500).
#pragma once
#include <memory>
#include <string>

#include "llama_pajamas/runtime.h"
#include "llama_pajamas/scheduler.h"
#include "serve/openai_api.h"

namespace lp::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;             // 0: any free port (bind() returns it)
  std::string model_name;      // the id /v1/models lists and responses carry
  std::string api_key;         // non-empty: require "Authorization: Bearer <key>"
  RequestDefaults defaults;    // for fields a request leaves out
  int parallel = 4;            // slots: sequences decoded together (each with the runtime's --ctx)
  int max_queue = 64;          // requests waiting for a slot; beyond: 503
  int http_threads = 0;        // connections served at once; 0: parallel + max_queue + 8 (waiting costs no CPU)
  size_t max_body_bytes = 8u << 20;  // larger request bodies: 413, refused before they are read
  double request_timeout_s = 600;    // a generation running longer ends with finish_reason "length"; 0: none
  double read_timeout_s = 10;        // longest silence while a request's headers and body arrive
  double request_read_deadline_s = 30;  // a request's headers and body must all arrive within this (slowloris)
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
  // Stops accepting, ends every running or queued generation (streams get a final chunk with finish_reason
  // "stop"... and [DONE]), then returns from run(). Safe from any thread, idempotent.
  void stop();
  SchedulerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lp::serve
