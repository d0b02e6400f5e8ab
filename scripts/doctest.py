#!/usr/bin/env python3
"""Doc-test runner (issue 15): runs the shell blocks of README.md and docs/*.md.

Convention (docs/running.md, "Docs that run"):
  ```sh / ```bash   the block runs as one bash script (set -e -o pipefail); expected exit 0.
  ```console        `$ cmd` lines run one by one; the lines after a command are its expected
                    output: each must match one output line, in order (`...` or `…` = any text),
                    and a line `[exit N]` says the command's expected exit status (default 0).
  ```text / ```json / ``` / others   not run (synopses, formats). An unlabelled block that
                    starts like a command (`redoubt`, `build/`, `scripts/`, `$ `, `ctest`, `qemu-system`, ...) is an error:
                    label it sh/console (runs) or text (a synopsis).
Annotations: HTML comments on the lines right before the opening fence:
  <!-- doctest: skip REASON -->       not run; listed with the reason
  <!-- doctest: requires PROG -->     skipped (listed) unless PROG is on PATH
  <!-- doctest: exit N -->            a sh block's expected exit status
  <!-- doctest: expect REGEX -->      the block's stdout+stderr must match (re.search; repeatable)
  <!-- doctest: setup COMMAND -->     run (hidden, must exit 0) before the block
  <!-- doctest: timeout SECONDS -->   default 120
Each document runs in order in its own scratch directory (the working directory) with
`build` -> the build directory, `redoubt` on PATH, REDOUBT_STATE_DIR and HOME inside it.
Exit 0 when every run block passed, 1 when one failed (each failure names FILE:LINE), 2 usage.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

RUN_LANGS = {"sh", "bash", "console"}
COMMAND_START = re.compile(r"^\s*(\$ |redoubt\b|build/|scripts/|ctest\b|cmake\b|qemu-system|tpm2_|swtpm\b|sudo\b|apt-get\b|python3\b)")
ANNOT = re.compile(r"^\s*<!--\s*doctest:\s*(\w+)\s*(.*?)\s*-->\s*$")


class Block:
    def __init__(self, path, line, lang, body, annots):
        self.path, self.line, self.lang, self.body, self.annots = path, line, lang, body, annots

    def where(self):
        return f"{self.path}:{self.line}"


def parse_doc(path, display):
    """Fenced blocks with their annotations; errors for unlabelled command blocks."""
    lines = open(path, encoding="utf-8").read().split("\n")
    blocks, errors, i = [], [], 0
    while i < len(lines):
        m = re.match(r"^(\s*)(```+)\s*([\w+-]*)", lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = len(m.group(1)), m.group(2), m.group(3)
        start = i + 1  # 1-based line of the opening fence
        annots, j = [], i - 1
        while j >= 0 and ANNOT.match(lines[j]):
            a = ANNOT.match(lines[j])
            annots.insert(0, (a.group(1), a.group(2)))
            j -= 1
        body, i = [], i + 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        i += 1
        b = Block(display, start, lang, body, annots)
        if lang in RUN_LANGS:
            blocks.append(b)
        elif lang == "" and body and COMMAND_START.match(body[0]):
            errors.append(f"{b.where()}: unlabelled command block: label it ```sh or ```console "
                          f"(it runs) or ```text (a synopsis, not run)")
        for k, _ in annots:
            if k not in ("skip", "requires", "exit", "expect", "setup", "timeout"):
                errors.append(f"{b.where()}: unknown doctest annotation '{k}'")
        if annots and lang not in RUN_LANGS:
            errors.append(f"{b.where()}: doctest annotation on a block that does not run (```{lang})")
    return blocks, errors


def wildcard_line(expected):
    """An expected output line as a regex: `...`/`…` match any text, the rest is literal."""
    parts = re.split(r"\.\.\.|…", expected.strip())
    return re.compile(".*".join(re.escape(p) for p in parts))


def check_lines(expected, output):
    """Each expected line must match a whole (stripped) output line, in order; returns the first miss."""
    out = [l.strip() for l in output.split("\n")]
    k = 0
    for e in expected:
        rx = wildcard_line(e)
        while k < len(out) and not rx.fullmatch(out[k]):
            k += 1
        if k == len(out):
            return e
        k += 1
    return None


def parse_console(body, first_line):
    """[(doc_line, command, expected_lines, expected_exit)] from a console block."""
    cmds, i = [], 0
    while i < len(body):
        l = body[i]
        if not l.startswith("$ "):
            if l.strip():
                raise ValueError(f"line {first_line + i}: output before any `$ ` command")
            i += 1
            continue
        line_no, cmd = first_line + i, l[2:]
        while cmd.endswith("\\") and i + 1 < len(body):
            i += 1
            cmd = cmd[:-1] + "\n" + body[i].lstrip("> ")
        i += 1
        expected, code = [], 0
        while i < len(body) and not body[i].startswith("$ "):
            m = re.fullmatch(r"\s*\[exit (\d+)\]\s*", body[i])
            if m:
                code = int(m.group(1))
            elif body[i].strip():
                expected.append(body[i])
            i += 1
        cmds.append((line_no, cmd, expected, code))
    return cmds


class Runner:
    def __init__(self, build, verbose):
        self.build, self.verbose = os.path.abspath(build), verbose
        self.ran = self.passed = 0
        self.failures, self.skipped = [], []

    def env_for(self, scratch):
        env = dict(os.environ)
        env["PATH"] = self.build + os.pathsep + env.get("PATH", "")
        env["REDOUBT_STATE_DIR"] = os.path.join(scratch, "state")
        env["HOME"] = os.path.join(scratch, "home")
        env.pop("XDG_STATE_HOME", None)
        env["REDOUBT_STATE_LOCK_WAIT_S"] = "30"
        return env

    def sh(self, script, scratch, timeout):
        # ERR trap: the failing line of the block (bash's LINENO, 1-based within the script).
        prog = "trap 'echo \"__doctest_line $LINENO\" >&2' ERR\nset -eE -o pipefail\n" + script
        # Its own session: whatever the block left running (a `&` server) is stopped with it. The output
        # goes to a file, not a pipe, so such a server cannot keep the block from ending.
        with tempfile.TemporaryFile() as log:
            p = subprocess.Popen(["bash", "-c", prog], cwd=scratch, env=self.env_for(scratch), stdin=subprocess.DEVNULL,
                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            timed_out = False
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            p.wait()
            log.seek(0)
            out = log.read().decode("utf-8", "replace")
        if timed_out:
            return None, out + f"\n(timed out after {timeout} s)", None
        m = re.findall(r"__doctest_line (\d+)", out)
        out = re.sub(r"__doctest_line \d+\n?", "", out)
        return p.returncode, out, (int(m[0]) - 2 if m else None)

    def fail(self, where, msg, out):
        tail = "\n".join("    | " + l for l in out.rstrip().split("\n")[-15:])
        self.failures.append(f"FAIL {where}: {msg}\n{tail}")
        print(self.failures[-1], flush=True)

    def run_block(self, b, scratch):
        ann = {}
        for k, v in b.annots:
            ann.setdefault(k, []).append(v)
        if "skip" in ann:
            self.skipped.append(f"{b.where()}: {ann['skip'][0]}")
            print(f"SKIP {self.skipped[-1]}", flush=True)
            return
        for prog in ann.get("requires", []):
            if shutil.which(prog) is None:
                self.skipped.append(f"{b.where()}: needs {prog}, not on PATH")
                print(f"SKIP {self.skipped[-1]}", flush=True)
                return
        timeout = int(ann.get("timeout", ["120"])[0])
        self.ran += 1
        t0 = time.monotonic()
        for s in ann.get("setup", []):
            code, out, _ = self.sh(s, scratch, timeout)
            if code != 0:
                return self.fail(b.where(), f"setup `{s}` exited {code}", out)
        ok = self.run_console(b, scratch, timeout) if b.lang == "console" else self.run_sh(b, ann, scratch, timeout)
        if ok:
            self.passed += 1
            print(f"ok   {b.where()} ({b.lang}, {time.monotonic() - t0:.1f} s)", flush=True)

    def run_sh(self, b, ann, scratch, timeout):
        want = int(ann.get("exit", ["0"])[0])
        code, out, line = self.sh("\n".join(b.body), scratch, timeout)
        if self.verbose:
            print(out)
        if code != want:
            at = f"{b.path}:{b.line + line}" if line is not None and code else b.where()
            return self.fail(at, f"exited {code}, the doc expects {want}", out)
        for rx in ann.get("expect", []):
            if not re.search(rx, out, re.M):
                return self.fail(b.where(), f"output does not match /{rx}/", out)
        return True

    def run_console(self, b, scratch, timeout):
        try:
            cmds = parse_console(b.body, b.line + 1)
        except ValueError as e:
            return self.fail(b.where(), str(e), "")
        for line_no, cmd, expected, want in cmds:
            code, out, _ = self.sh(cmd, scratch, timeout)
            if self.verbose:
                print(out)
            where = f"{b.path}:{line_no}"
            if code != want:
                return self.fail(where, f"`{cmd.splitlines()[0]}` exited {code}, the doc expects {want}", out)
            miss = check_lines(expected, out)
            if miss is not None:
                return self.fail(where, f"`{cmd.splitlines()[0]}`: no output line matches the doc's `{miss.strip()}`", out)
        return True


def main():
    ap = argparse.ArgumentParser(description="Run the shell blocks of markdown docs (docs/running.md, 'Docs that run')")
    ap.add_argument("docs", nargs="+", help="markdown files, run in this order")
    ap.add_argument("--build", required=True, help="the build directory (holds redoubt, sl.bin, hv.bin)")
    ap.add_argument("--root", default=os.getcwd(), help="paths in messages are relative to this")
    ap.add_argument("--keep", help="keep the scratch directories under this directory")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every block's output")
    a = ap.parse_args()
    if not os.access(os.path.join(a.build, "redoubt"), os.X_OK):
        print(f"doctest: {a.build}/redoubt is not an executable (build first)", file=sys.stderr)
        return 2
    r, parse_errors = Runner(a.build, a.verbose), []
    top = a.keep or tempfile.mkdtemp(prefix="redoubt-doctest-")
    t0 = time.monotonic()
    try:
        for doc in a.docs:
            shown = os.path.relpath(os.path.abspath(doc), a.root)
            blocks, errors = parse_doc(doc, shown)
            parse_errors += errors
            for e in errors:
                print(f"FAIL {e}", flush=True)
            if not blocks:
                continue
            scratch = os.path.join(top, re.sub(r"[^\w.-]", "_", shown))
            os.makedirs(os.path.join(scratch, "home"), exist_ok=True)
            if not os.path.exists(os.path.join(scratch, "build")):
                os.symlink(r.build, os.path.join(scratch, "build"))
            # Paths a doc names from the repository root (read-only inputs): tests/, docs/, guests/.
            for d in ("tests", "docs", "guests"):
                if not os.path.exists(os.path.join(scratch, d)) and os.path.isdir(os.path.join(a.root, d)):
                    os.symlink(os.path.join(os.path.abspath(a.root), d), os.path.join(scratch, d))
            for b in blocks:
                r.run_block(b, scratch)
    finally:
        if not a.keep:
            shutil.rmtree(top, ignore_errors=True)
    failed = len(r.failures) + len(parse_errors)
    print(f"doctest: {len(a.docs)} documents, {r.ran} blocks run, {r.passed} passed, {failed} failed, "
          f"{len(r.skipped)} skipped, {time.monotonic() - t0:.0f} s")
    for s in r.skipped:
        print(f"  skipped {s}")
    for f in r.failures:
        print(f.split("\n")[0])
    for e in parse_errors:
        print(f"FAIL {e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
