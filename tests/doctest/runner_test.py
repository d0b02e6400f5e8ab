#!/usr/bin/env python3
"""doctest_runner_test: the doc-test runner passes a correct doc and fails a broken one,
naming the file and line of each mistake (issue 15: "one deliberate doc breakage shown failing it")."""
import os
import subprocess
import sys

root, build = sys.argv[1], sys.argv[2]
runner = os.path.join(root, "scripts/doctest.py")


def run(doc):
    p = subprocess.run([sys.executable, runner, "--build", build, "--root", root, os.path.join(root, doc)],
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


failures = []


def check(cond, what, out):
    if not cond:
        failures.append(f"{what}\n--- runner output ---\n{out}")


code, out = run("tests/doctest/fixtures/good.md")
check(code == 0, f"good.md: runner exit {code}, want 0", out)
check("doctest: 1 documents, 4 blocks run, 4 passed, 0 failed, 1 skipped" in out, "good.md: counts", out)
check("skipped tests/doctest/fixtures/good.md:28: shows that skipped blocks are listed" in out, "good.md: skip listed", out)

code, out = run("tests/doctest/fixtures/broken.md")
check(code == 1, f"broken.md: runner exit {code}, want 1", out)
check("doctest: 1 documents, 3 blocks run, 0 passed, 4 failed, 1 skipped" in out, "broken.md: counts", out)
# The wrong flag: the block's second line, and CLI11's message naming the flag.
check("FAIL tests/doctest/fixtures/broken.md:7: exited 2, the doc expects 0" in out, "broken.md: wrong flag at :7", out)
check("--curv" in out, "broken.md: the wrong flag named", out)
# The wrong expected output: the command's line and the doc's line that matched nothing.
check("FAIL tests/doctest/fixtures/broken.md:13: `build/redoubt key gen --out keys/c`: no output line matches "
      "the doc's `wrote keys/c.key.pem and keys/c.public.pem`" in out, "broken.md: wrong output at :13", out)
check("FAIL tests/doctest/fixtures/broken.md:21: `build/redoubt slb show junk.bin` exited 3, the doc expects 0" in out,
      "broken.md: wrong exit at :21", out)
check("FAIL tests/doctest/fixtures/broken.md:26: unlabelled command block" in out, "broken.md: unlabelled at :26", out)

for f in failures:
    print("FAILED:", f)
print(f"doctest_runner_test: {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
