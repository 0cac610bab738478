// llama-pajamas-run serve: an OpenAI-compatible HTTP API (chat/completions, completions, SSE streaming)
// around one model. The sampling flags set the defaults for fields a request leaves out.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>
#include <nlohmann/json.hpp>
#include <pthread.h>
#include <thread>

#include "common/command.h"
#include "engine_cli.h"
#include "serve/server.h"

namespace {

// OpenMP threads that spin between parallel regions (libgomp's default) take the cores the HTTP threads, the
// other processes of a shared machine, and the sampler need: on the 2-core dev VM under load, one streaming
// client got 1.2 tok/s with the default and 12.9 tok/s with OMP_WAIT_POLICY=passive (docs/SERVE.md). libgomp
// reads the variable when it loads, so `serve` re-executes itself once with passive waiting unless the user
// chose (OMP_WAIT_POLICY or GOMP_SPINCOUNT set; OMP_WAIT_POLICY=active restores spinning).
void prefer_passive_openmp_waiting() {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> args;
  for (std::string a; std::getline(in, a, '\0');) args.push_back(a);
  if (args.empty()) return;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  setenv("OMP_WAIT_POLICY", "passive", 1);
  execv("/proc/self/exe", argv.data());
  unsetenv("OMP_WAIT_POLICY");  // exec failed: carry on as we are
}

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
  auto* parallel_opt = sub.add_option("--parallel", o->server.parallel,
                 "slots: sequences decoded together, each with its own --ctx context (the KV cache holds parallel x ctx); "
                 "default: the hardware profile's (fewer when they do not fit the memory), 4 with --profile none")
      ->check(CLI::Range(1, 256));
  sub.add_option("--max-queue", o->server.max_queue, "requests waiting for a free slot; beyond it 503")->check(CLI::Range(0, 100000))->capture_default_str();
  sub.add_option("--max-body", o->server.max_body_bytes, "largest request body in bytes; larger: 413")->check(CLI::Range(size_t(1024), size_t(1) << 32))->capture_default_str();
  sub.add_option("--timeout", o->server.request_timeout_s, "seconds a generation may run (then finish_reason \"length\"); 0: none")
      ->check(CLI::Range(0.0, 1e7))
      ->capture_default_str();
  sub.add_option("--http-threads", o->server.http_threads, "connections served at once (0: parallel + max-queue + 8)")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  return [o, parallel_opt]() {
    prefer_passive_openmp_waiting();
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

    o->plan_parallel = o->server.parallel;  // the memory check counts every slot's KV cache
    o->parallel_from_profile = parallel_opt->count() == 0;
    lp::Runtime rt = o->open();
    if (o->parallel_from_profile && o->profile != "none") o->server.parallel = o->plan_parallel;
    lp::serve::Server server(rt, o->server);
    const int port = server.bind();
    const lp::ModelInfo info = rt.info();
    if (o->json) {
      std::printf("%s\n", nlohmann::json{{"host", o->server.host}, {"port", port}, {"model", o->server.model_name},
                                         {"ctx", info.ctx}, {"threads", info.threads}, {"parallel", o->server.parallel}}.dump().c_str());
      std::fflush(stdout);
    }
    std::fprintf(stderr, "serving %s (%s, %d slots x ctx %d, %d threads) on http://%s:%d/v1  (Ctrl-C to stop)\n", o->server.model_name.c_str(),
                 info.architecture.c_str(), o->server.parallel, info.ctx, info.threads, o->server.host.c_str(), port);
    // The first SIGINT/SIGTERM stops the server (open streams get their final chunk and [DONE]); a second one
    // exits at once.
    std::atomic<bool> exiting{false};
    std::thread stopper;
    std::thread watcher([&] {
      int sig = 0;
      sigwait(&signals, &sig);
      if (exiting) return;
      std::fprintf(stderr, "stopping (a second Ctrl-C exits at once)\n");
      stopper = std::thread([&] { server.stop(); });
      sigwait(&signals, &sig);
      if (exiting) return;
      std::fprintf(stderr, "second signal: exiting now\n");
      std::_Exit(130);
    });
    server.run();
    server.stop();
    // run() also returns if the server stopped for another reason: wake the watcher so it can be joined.
    exiting = true;
    pthread_kill(watcher.native_handle(), SIGTERM);
    watcher.join();
    if (stopper.joinable()) stopper.join();
    std::fprintf(stderr, "server stopped\n");
    return 0;
  };
}}};

}  // namespace
