// Load generator for OpenAI-compatible servers (ours and llama-server): C concurrent clients send streaming
// (or, with --non-stream-share, plain) chat completions with fixed prompts and max_tokens; a share of the
// streams hang up after a few tokens. Bounded in requests and time, loopback only.
// Reports aggregate generated tok/s, time to first token p50/p99, inter-token latency p50/p99, errors, and
// the server's busy slots after the run (/health: ours reports slots_processing, llama-server slots_processing).
//
// usage: node bench/serve_load.mjs --url http://127.0.0.1:8080 [--clients 4] [--requests 32] [--max-tokens 64]
//        [--duration 120] [--disconnect-share 0] [--non-stream-share 0] [--seed 1] [--json]
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]?.startsWith("--") || all[i + 1] === undefined ? "1" : all[i + 1]]] : acc), []));
if (args.help || !args.url) {
  console.log("usage: node bench/serve_load.mjs --url http://127.0.0.1:PORT [--clients C] [--requests N] [--max-tokens T] [--duration S] [--disconnect-share F] [--non-stream-share F] [--seed N] [--json]");
  process.exit(args.help ? 0 : 2);
}
const url = new URL(args.url);
if (!["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) {
  console.error(`error: --url ${args.url}: loopback only (127.0.0.1, localhost, [::1])`);
  process.exit(2);
}
const clients = Number(args.clients ?? 4), requests = Number(args.requests ?? 8 * clients), maxTokens = Number(args["max-tokens"] ?? 64);
const duration = Number(args.duration ?? 120), disconnectShare = Number(args["disconnect-share"] ?? 0), nonStream = Number(args["non-stream-share"] ?? 0);
for (const [k, v] of Object.entries({ clients, requests, maxTokens, duration }))
  if (!(v > 0) || v > 100000) { console.error(`error: --${k} must be a positive number`); process.exit(2); }
let seed = Number(args.seed ?? 1);
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);

const topics = ["the sea", "a mountain", "a city at night", "an old library", "a robot", "the desert", "a garden", "winter"];
const deadline = performance.now() + duration * 1000;
const ttft = [], itl = [], stats = { ok: 0, errors: 0, disconnects: 0, tokens: 0, errorSamples: [] };

async function one(i) {
  const stream = rand() >= nonStream;
  const hangUpAfter = stream && rand() < disconnectShare ? 1 + Math.floor(rand() * 8) : -1;
  const body = { model: "m", messages: [{ role: "system", content: "You are a storyteller." },
    { role: "user", content: `Write a long story about ${topics[i % topics.length]}.` }],
    max_tokens: maxTokens, temperature: 0, stream, ...(stream ? { stream_options: { include_usage: true } } : {}) };
  const ac = new AbortController();
  const t0 = performance.now();
  try {
    const res = await fetch(new URL("/v1/chat/completions", url), { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), signal: ac.signal });
    if (res.status !== 200) { stats.errors++; if (stats.errorSamples.length < 3) stats.errorSamples.push(`${res.status} ${(await res.text()).slice(0, 200)}`); return; }
    if (!stream) {
      const j = await res.json();
      stats.tokens += j.usage?.completion_tokens ?? 0;
      ttft.push(performance.now() - t0);
      stats.ok++;
      return;
    }
    const reader = res.body.getReader(), dec = new TextDecoder();
    let buf = "", last = -1, pieces = 0, usageTokens = null;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n\n")) >= 0) {
        const ev = buf.slice(0, nl); buf = buf.slice(nl + 2);
        if (!ev.startsWith("data: ") || ev === "data: [DONE]") continue;
        const j = JSON.parse(ev.slice(6));
        if (j.usage) usageTokens = j.usage.completion_tokens;
        const c = j.choices?.[0];
        if (!c || !(c.delta?.content)) continue;
        const now = performance.now();
        if (last < 0) ttft.push(now - t0); else itl.push(now - last);
        last = now;
        pieces++;
        if (hangUpAfter > 0 && pieces >= hangUpAfter) { ac.abort(); stats.disconnects++; stats.tokens += pieces; return; }
      }
    }
    stats.tokens += usageTokens ?? pieces;
    stats.ok++;
  } catch (e) {
    if (ac.signal.aborted) return;
    stats.errors++;
    if (stats.errorSamples.length < 3) stats.errorSamples.push(String(e));
  }
}

let next = 0;
const t0 = performance.now();
await Promise.all(Array.from({ length: clients }, async () => {
  while (next < requests && performance.now() < deadline) await one(next++);
}));
const seconds = (performance.now() - t0) / 1000;
await new Promise((r) => setTimeout(r, 500));  // let the server notice the last hang-ups
let busy = null;
try {
  const h = await (await fetch(new URL("/health", url))).json();
  busy = h.slots_processing ?? null;
} catch { /* reported as null */ }
const pct = (a, p) => { if (!a.length) return null; const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))]; };
const r = { clients, requests: next, ok: stats.ok, errors: stats.errors, disconnects: stats.disconnects, generated_tokens: stats.tokens,
  seconds: +seconds.toFixed(2), tokens_per_second: +(stats.tokens / seconds).toFixed(2),
  ttft_ms_p50: pct(ttft, 50), ttft_ms_p99: pct(ttft, 99), itl_ms_p50: pct(itl, 50), itl_ms_p99: pct(itl, 99), busy_slots_after: busy,
  error_samples: stats.errorSamples };
for (const k of Object.keys(r)) if (typeof r[k] === "number" && !Number.isInteger(r[k])) r[k] = +r[k].toFixed(2);
if (args.json) console.log(JSON.stringify(r));
else console.log(Object.entries(r).map(([k, v]) => `${k}=${Array.isArray(v) ? JSON.stringify(v) : v}`).join(" "));
process.exit(stats.errors > 0 ? 1 : 0);
