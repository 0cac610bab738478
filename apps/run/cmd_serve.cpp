// llama-pajamas-run serve: an OpenAI-compatible HTTP API (chat/completions, completions, SSE streaming)
// around one model. The sampling flags set the defaults for fields a request leaves out.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <pthread.h>
#include <thread>

#include "common/command.h"
#include "engine_cli.h"
#include "serve/server.h"

namespace {

struct Opts : lp::app::EngineCli {
  lp::serve::ServerOptions server;
};

lp::app::RegisterCommand reg{{"serve", "OpenAI-compatible HTTP server (/v1/chat/completions, /v1/completions, SSE)", [](CLI::App& sub) {
  auto o = std::make_shared<Opts>();
  o->add_model_options(sub, 4096, true);
  o->infer.max_tokens = -1;  // serve: until end of generation or context, unless the request says (shown as -1)
  o->add_sampling_options(sub);
  o->add_json(sub);
  sub.add_option("--host", o->server.host, "address to listen on")->capture_default_str();
  sub.add_option("--port", o->server.port, "TCP port (0: any free port, printed at start)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  sub.add_option("--model-name", o->server.model_name, "model id in /v1/models and responses (default: manifest.json's model id, else the file name)");
  sub.add_option("--api-key", o->server.api_key, "require 'Authorization: Bearer KEY' (default: $LP_API_KEY, else none)");
  sub.add_option("--http-threads", o->server.http_threads, "connections served at once (generations run one at a time)")
      ->capture_default_str();
  return [o]() {
    if (o->server.api_key.empty())
      if (const char* k = std::getenv("LP_API_KEY")) o->server.api_key = k;
    if (o->server.model_name.empty()) o->server.model_name = lp::model_name(o->model);
    o->server.defaults.config = o->infer;
    o->server.defaults.max_tokens = o->infer.max_tokens;
    // SIGINT/SIGTERM are taken by a watcher thread (blocked everywhere else), which stops the server cleanly.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    lp::Runtime rt = o->open();
    lp::serve::Server server(rt, o->server);
    const int port = server.bind();
    const lp::ModelInfo info = rt.info();
    if (o->json) {
      std::printf("%s\n", nlohmann::json{{"host", o->server.host}, {"port", port}, {"model", o->server.model_name},
                                         {"ctx", info.ctx}, {"threads", info.threads}}.dump().c_str());
      std::fflush(stdout);
    }
    std::fprintf(stderr, "serving %s (%s, ctx %d, %d threads) on http://%s:%d/v1  (Ctrl-C to stop)\n", o->server.model_name.c_str(),
                 info.architecture.c_str(), info.ctx, info.threads, o->server.host.c_str(), port);
    std::thread watcher([&] {
      int sig = 0;
      sigwait(&signals, &sig);
      server.stop();
    });
    server.run();
    // run() also returns if the server stopped for another reason: wake the watcher so it can be joined.
    pthread_kill(watcher.native_handle(), SIGTERM);
    watcher.join();
    std::fprintf(stderr, "server stopped\n");
    return 0;
  };
}}};

}  // namespace
