// Test helper: a Server on a free port, run on its own thread for the helper's lifetime.
#pragma once
#include <httplib.h>

#include <memory>
#include <string>
#include <thread>

#include "llama_pajamas/runtime.h"
#include "serve/server.h"

namespace lp::test {

class Running {
 public:
  Running(const std::string& model, const RuntimeOptions& ro, serve::ServerOptions o = {}) : rt_(Runtime::open(model, ro)) {
    o.port = 0;
    if (o.model_name.empty()) o.model_name = "tiny";
    server_ = std::make_unique<serve::Server>(rt_, o);
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->run(); });
  }
  ~Running() { stop(); }
  int port() const { return port_; }
  void stop() {  // idempotent: tests stop the server early to check shutdown
    server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  Running(const Running&) = delete;
  Running& operator=(const Running&) = delete;
  httplib::Client client(int read_timeout_s = 60) const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(read_timeout_s, 0);
    return c;
  }

 private:
  Runtime rt_;
  std::unique_ptr<serve::Server> server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace lp::test
