// Where the oracle tests find our binaries, the source tree and the shared trained fixtures.
// ctest sets LP_BUILD_DIR / LP_SOURCE_DIR / LP_SHARED_FIXTURES; the defaults serve a manual `node --test`.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const sourceDir = process.env.LP_SOURCE_DIR ?? path.resolve(here, "../../..");
export const buildDir = process.env.LP_BUILD_DIR ?? path.join(sourceDir, "build/release");
export const fixturesDir = process.env.LP_SHARED_FIXTURES ?? path.resolve(sourceDir, "../shared/fixtures");
export const quantBin = path.join(buildDir, "apps", "llama-pajamas-quant");
export const runBin = path.join(buildDir, "apps", "llama-pajamas-run");
export const oraclesDir = path.resolve(here, "..");

export function fixture(name) {
  return path.join(fixturesDir, name);
}

export function haveFixture(name) {
  return fs.existsSync(path.join(fixturesDir, name, "model.safetensors"));
}

// A prerequisite reason (lib/require.mjs) for a shared trained fixture: false when present.
export function fixtureMissing(name) {
  return haveFixture(name) ? false : `fixture ${name} missing (${path.join(fixturesDir, name, "model.safetensors")})`;
}

// A node:test `skip` value: false when every path exists, else a message naming what is missing.
export function skipUnless(...paths) {
  const missing = paths.filter((p) => !fs.existsSync(p));
  return missing.length ? `missing: ${missing.join(", ")}` : false;
}
