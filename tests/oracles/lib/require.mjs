// One rule for every oracle test whose prerequisite (a peer library or tool, a shared fixture, a binary of ours,
// free disk space) is missing:
//   - by default the test is SKIPPED with a reason that names what is missing (node:test prints it as
//     "# SKIP <reason>", and the run's summary counts it), so a developer without the peers can still run the rest;
//   - with LP_REQUIRE_PEERS=1 (CI sets it) the same test FAILS with the same reason: in CI a missing peer is an
//     error, never a silent pass.
// Use skipOrFail(t, reason) at the top of a test body, or wrap the body with gated(reason, fn). A reason is false /
// empty when everything is present, a string otherwise, or a function returning either (evaluated when the test runs).
import { test } from "node:test";

export const requirePeers = process.env.LP_REQUIRE_PEERS === "1";

function resolve(reason) {
  return typeof reason === "function" ? reason() : reason;
}

// Returns true when the test was skipped (the caller returns); throws under LP_REQUIRE_PEERS=1.
export function skipOrFail(t, reason) {
  const why = resolve(reason);
  if (!why) return false;
  if (requirePeers) throw new Error(`prerequisite missing (LP_REQUIRE_PEERS=1 makes this a failure): ${why}`);
  t.skip(why);
  return true;
}

// A test body that runs only when `reason` is false (see skipOrFail).
export function gated(reason, fn) {
  return (t) => (skipOrFail(t, reason) ? undefined : fn(t));
}

// For suites that register their cases only when a prerequisite exists: registers one test that stands for the
// cases that could not be registered, skipped (or failed) with the reason. Does nothing when reason is false.
export function missingCases(name, reason) {
  const why = resolve(reason);
  if (why) test(name, (t) => { skipOrFail(t, why); });
}

// The first non-empty reason among several (each a reason as above); false when all are satisfied.
export function firstReason(...reasons) {
  for (const r of reasons) {
    const why = resolve(r);
    if (why) return why;
  }
  return false;
}
