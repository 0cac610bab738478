// Running our executables from oracle tests, and temp dirs that clean up after themselves.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { quantBin, runBin } from "./paths.mjs";

// Runs a binary; returns {code, stdout, stderr}. Never throws on a non-zero exit.
export function runBinary(bin, args, { input, env, timeoutMs = 600_000 } = {}) {
  const r = spawnSync(bin, args, { input, env: env ? { ...process.env, ...env } : process.env, encoding: "utf8",
    maxBuffer: 1 << 30, timeout: timeoutMs });
  if (r.error) throw r.error;
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

// Runs and throws with the command line and stderr when the exit code is not 0; returns stdout.
export function mustRun(bin, args, opts) {
  const r = runBinary(bin, args, opts);
  if (r.code !== 0) throw new Error(`${path.basename(bin)} ${args.join(" ")} exited ${r.code ?? r.signal}:\n${r.stderr}`);
  return r.stdout;
}

export const quant = (args, opts) => mustRun(quantBin, args, opts);
export const run = (args, opts) => mustRun(runBin, args, opts);
export const quantJson = (args, opts) => JSON.parse(quant([...args, "--json"], opts));

// A fresh directory under the OS temp dir; removed at process exit unless LP_KEEP_TMP is set.
const made = [];
export function tempDir(prefix = "lp-oracle-") {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}
process.on("exit", () => {
  if (process.env.LP_KEEP_TMP) return;
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

// `make-test-model --family F` into DIR (tiny synthetic checkpoint); returns DIR.
export function generateTiny(family, dir, extra = []) {
  quant(["make-test-model", "--family", family, "-o", dir, ...extra]);
  return dir;
}

// `convert MODEL -o DIR --formats gguf -p PRESET [extra]`; returns the absolute paths of the GGUF files written.
export function convertGguf(model, dir, precision, extra = []) {
  const summary = quantJson(["convert", model, "-o", dir, "--formats", "gguf", "--precision", precision, "-q", ...extra]);
  return summary.artifacts.filter((a) => a.format === "gguf").map((a) => path.join(dir, a.path));
}
