#!/usr/bin/env python3
"""Summary of what a ctest run skipped, and why, and its slowest tests (scripts/test.sh prints it after every ctest stage).

Reads BUILD_DIR/Testing/Temporary/LastTest.log and lists:
  - ctest tests that were skipped as a whole (exit 77: e.g. a SIMD target this CPU lacks),
  - GoogleTest cases that skipped inside a test binary ("[  SKIPPED ]", with the reason printed before it),
  - node:test subtests that skipped ("# SKIP reason" in the TAP output of tests/oracles).
With LP_REQUIRE_PEERS=1 (CI) every skip that is not a hardware skip is an error and the exit status is 1:
a missing peer, fixture or tool must fail, never pass by skipping. Hardware skips (the CPU lacks a SIMD
target or AVX-512 VNNI) are listed but allowed, since CI machines vary between AVX2 and AVX-512.
"""
import os
import re
import sys
import xml.etree.ElementTree as ET

HARDWARE = re.compile(r"not available on this CPU|no AVX-512 VNNI|this CPU (has no|lacks)", re.I)


def blocks(log):
    # Each test's record starts with "N/M Testing: NAME" and ends at the next one.
    parts = re.split(r"^\d+/\d+ Testing: (.+)$", log, flags=re.M)
    for i in range(1, len(parts) - 1, 2):
        yield parts[i].strip(), parts[i + 1]


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build/release"
    path = os.path.join(build, "Testing", "Temporary", "LastTest.log")
    if not os.path.exists(path):
        print(f"test summary: {path} not found (no ctest run)")
        return 1
    log = open(path, encoding="utf-8", errors="replace").read()
    # LastTest.log says "Test Passed." for a SKIP_RETURN_CODE exit too; the JUnit file ctest writes
    # (scripts/test.sh: --output-junit) has the real status.
    skipped_whole = set()
    times = []
    junit = os.path.join(build, "ctest-junit.xml")
    if os.path.exists(junit):
        for case in ET.parse(junit).getroot().iter("testcase"):
            times.append((float(case.get("time") or 0), case.get("name")))
            if case.get("status") in ("notrun", "skipped") or case.find("skipped") is not None:
                skipped_whole.add(case.get("name"))
    whole, inner = [], []
    n = 0
    for name, body in blocks(log):
        n += 1
        out = body.split("<end of output>")[0]
        if name in skipped_whole:
            g = re.search(r": Skipped\n(.*?)\n\s*\n?\[  SKIPPED \]", out, re.S)  # a GoogleTest case's own reason
            reason = " ".join(g.group(1).split()) if g else next(
                (l for l in reversed(out.splitlines()) if "skipped" in l.lower() or "missing" in l.lower()), "").strip()
            whole.append((name, reason or "skipped"))
            continue
        # GoogleTest: "path:line: Skipped\nREASON\n\n[  SKIPPED ] Suite.Case"
        for m in re.finditer(r": Skipped\n((?:(?!\[  SKIPPED \]|\[ RUN ).)*?)\[  SKIPPED \] (\S+) \(", out, re.S):
            inner.append((m.group(2) if m.group(2) == name else f"{name}: {m.group(2)}", " ".join(m.group(1).split())))
        # node:test TAP: "ok 3 - title # SKIP reason"
        for m in re.finditer(r"^\s*ok \d+ - (.*?) # SKIP\s*(.*)$", out, re.M):
            inner.append((f"{name}: {m.group(1)}", m.group(2).strip() or "skipped"))
    required = os.environ.get("LP_REQUIRE_PEERS", "0") not in ("", "0")
    unexpected = [(t, r) for t, r in whole + inner if not HARDWARE.search(r)]
    print(f"== test summary ({build}): {n} ctest tests, {len(whole)} skipped as a whole, {len(inner)} skipped inside")
    for t, r in whole:
        print(f"  skipped  {t}: {r}")
    for t, r in inner:
        print(f"  skipped  {t}: {r}")
    if not whole and not inner:
        print("  nothing skipped")
    if times:
        # Where the stage's minutes go (CI must stay under 45 minutes in all; docs/TESTING.md).
        times.sort(reverse=True)
        print(f"  slowest: " + ", ".join(f"{name} {t:.0f} s" for t, name in times[:8])
              + f"; all tests {sum(t for t, _ in times):.0f} s of test time")
    if required and unexpected:
        print(f"test summary: LP_REQUIRE_PEERS=1 and {len(unexpected)} skip(s) are not hardware skips: failing")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
