#!/usr/bin/env python3
"""cli_contract_test (issue 15): one exit-code / --json contract across every subcommand.

The subcommands come from the CLI's own table (`redoubt --list-commands`), so a new one is
checked without being listed here. For each: `--help` exits 0 and prints its usage; an
unknown flag exits 2 and the message names the flag. For each with `--json`: the unknown
flag still gives one JSON document on stdout (docs/schemas/error.json); its success and
its error cases below give one JSON document valid against the command's schema
(docs/schemas/*.json, draft 2020-12) with the documented exit code (docs/running.md,
"Exit codes"). A --json command without a case here fails the test.
Usage: cli_contract_test.py SOURCE_DIR BUILD_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import jsonschema

src, build = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
redoubt = os.path.join(build, "redoubt")
schema_dir = os.path.join(src, "docs/schemas")
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL", msg, flush=True)


def load_schemas():
    schemas = {f: json.load(open(os.path.join(schema_dir, f))) for f in os.listdir(schema_dir) if f.endswith(".json")}
    for name, s in schemas.items():
        jsonschema.Draft202012Validator.check_schema(s)
        if s.get("$schema") != "https://json-schema.org/draft/2020-12/schema":
            fail(f"docs/schemas/{name}: not a draft 2020-12 schema")
    return schemas


SCHEMAS = load_schemas()


def validator(name):
    s = SCHEMAS[name]
    try:  # jsonschema >= 4.18: the referencing library
        from referencing import Registry, Resource
        reg = Registry().with_resources((d["$id"], Resource.from_contents(d)) for d in SCHEMAS.values())
        return jsonschema.Draft202012Validator(s, registry=reg)
    except ImportError:  # Debian 12's python3-jsonschema 4.10
        store = {d["$id"]: d for d in SCHEMAS.values()}
        return jsonschema.Draft202012Validator(s, resolver=jsonschema.RefResolver.from_schema(s, store=store))


def run(args, cwd, env, timeout=120):
    p = subprocess.run([redoubt] + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def check_json(what, args, cwd, env, want_exit, schema):
    code, out, err = run(args, cwd, env)
    if code != want_exit:
        return fail(f"{what}: `redoubt {' '.join(args)}` exited {code}, want {want_exit}\n{err[-600:]}")
    try:
        doc = json.loads(out)  # the whole of stdout: one document, nothing before or after it
    except ValueError as e:
        return fail(f"{what}: `redoubt {' '.join(args)}`: stdout is not one JSON document ({e}): {out[:300]!r}")
    errs = sorted(validator(schema).iter_errors(doc), key=lambda e: list(e.path))
    if errs:
        return fail(f"{what}: `redoubt {' '.join(args)}`: not valid against docs/schemas/{schema}: "
                    f"{errs[0].message[:300]} at /{'/'.join(map(str, errs[0].path))}")
    if schema == "error.json" and doc["error"]["exit_code"] != want_exit:
        return fail(f"{what}: error document says exit_code {doc['error']['exit_code']}, the process exited {want_exit}")
    return doc


def main():
    tmp = tempfile.mkdtemp(prefix="redoubt-contract-")
    env = dict(os.environ, REDOUBT_STATE_DIR=os.path.join(tmp, "state"), HOME=tmp, TSS2_LOG="all+NONE")
    code, out, err = run(["--list-commands"], tmp, env)
    table = json.loads(out)["commands"]
    paths = [" ".join(c["path"]) for c in table]
    print(f"{len(table)} subcommands: {', '.join(paths)}", flush=True)
    if len(table) < 20:
        fail(f"--list-commands lists only {len(table)} subcommands")

    # 1. --help and an unknown flag, for every subcommand.
    for c in table:
        p = c["path"]
        code, out, err = run(p + ["--help"], tmp, env)
        if code != 0 or f"Usage: redoubt {' '.join(p)}" not in out:
            fail(f"`redoubt {' '.join(p)} --help`: exit {code}, usage line missing: {out[:200]!r}")
        code, out, err = run(p + ["--no-such-flag"], tmp, env)
        if code != 2 or "--no-such-flag" not in err:
            fail(f"`redoubt {' '.join(p)} --no-such-flag`: exit {code} (want 2), message {err.strip()[:200]!r} must name the flag")
        if c["json"]:
            check_json(" ".join(p), p + ["--json", "--no-such-flag"], tmp, env, 2, "error.json")
        elif "--json" in c["flags"]:
            fail(f"{' '.join(p)}: table says no --json but lists the flag")

    # 2. What the success and error cases need: a launch, a PKI, a verifier with one endpoint.
    bd = lambda *a: os.path.join(build, *a)
    open(os.path.join(tmp, "junk.bin"), "w").write("junk\n")
    setup = [
        ["launch", "--out", "o"],
        ["pki", "init", "pki"],
        ["sign", "guest", "--kernel", bd("guests/hello.bin"), "--key", "pki/leaf.key.pem", "--cert", "pki/leaf.crt.pem",
         "--chain", "pki/intermediate.crt.pem", "--svn", "1", "--name", "hello", "--out", "hello.manifest"],
        ["sign", "policy", "--key", "pki/owner.key.pem", "--anchor", "pki/root.crt.pem", "--out", "p.policy"],
        ["sign", "policy", "--key", "pki/owner.key.pem", "--anchor", "pki/root.crt.pem", "--min-svn", "hello=2",
         "--out", "p2.policy"],
        ["manufacturer-ca", "ca"],
        ["key", "gen", "--out", "keys/hv"],
        ["key", "gen", "--out", "keys/authority"],
    ]
    for a in setup:
        code, out, err = run(a, tmp, env)
        if code != 0:
            fail(f"setup `redoubt {' '.join(a)}` exited {code}: {err[-400:]}")
            shutil.rmtree(tmp, ignore_errors=True)
            return
    open(os.path.join(tmp, "ref.json"), "w").write('{"type": "redoubt.reference-values/1", "id": "lab"}\n')
    code, out, err = run(["verifier", "sign-reference", "--in", "ref.json", "--key", "keys/authority.key.pem", "--out",
                          "ref.cose", "--hypervisor-signer", "keys/hv.pub.pem"], tmp, env)
    log = open(os.path.join(tmp, "verifier.log"), "w")
    for a in (["key", "gen", "--out", "keys/issuer"],
              ["verifier", "token", "issue", "--key", "keys/issuer.key.pem", "--role", "admin", "--out", "admin.token"],
              ["verifier", "token", "issue", "--key", "keys/issuer.key.pem", "--role", "endpoint", "--endpoint", "lab-7",
               "--out", "lab-7.token"],
              ["verifier", "token", "issue", "--key", "keys/issuer.key.pem", "--role", "relying-party", "--out", "rp.token"]):
        code, out, err = run(a, tmp, env)
        if code != 0:
            return fail(f"setup `redoubt {' '.join(a)}` exited {code}: {err[-400:]}")
    verifier = subprocess.Popen([redoubt, "verifier", "serve", "--listen", "127.0.0.1:0", "--db", "v.db", "--manufacturer-ca",
                                 "ca", "--reference", "ref.cose", "--authority", "keys/authority.pub.pem",
                                 "--token-issuer", "keys/issuer.pub.pem"],
                                cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = None
        for _ in range(100):
            text = open(os.path.join(tmp, "verifier.log")).read()
            if "listening on " in text:
                url = text.split("listening on ")[1].split()[0]
                break
            time.sleep(0.1)
        if url is None:
            return fail("the verifier did not start: " + open(os.path.join(tmp, "verifier.log")).read()[-400:])
        code, out, err = run(["endpoint", "--verifier", url, "--id", "lab-7", "--state", "st/lab-7", "--manufacturer-ca", "ca",
                              "--token", "lab-7.token", "--enrol-token", "admin.token",
                              "--signing-key", "keys/hv.key.pem", "--count", "1"], tmp, env)
        if code != 0:
            fail(f"endpoint exited {code}: {err[-400:]}")
        attest = ["attest", "--verifier", url, "--verifier-key", "v.db.pub.pem", "--token", "rp.token"]

        # 3. Per --json command: (arguments, exit code, schema); every one a success and an error case.
        K = bd("guests/hello.bin")
        cases = {
            "launch": [(["--out", "o2"], 0, "launch.json"),
                       (["--out", "o3", "--sim-svm-off"], 1, "launch.json"),  # refused: still the launch document
                       (["--sl", "nosuch.bin"], 3, "error.json")],
            "run": [(["--guest", "hello", "--out", "r"], 0, "run.json"),
                    (["--guest", "nosuch"], 3, "error.json")],
            "key gen": [(["--out", "keys/j"], 0, "key-gen.json"),
                        (["--out", "keys/j"], 3, "error.json")],  # exists: not replaced
            "eventlog show": [(["o/eventlog.bin"], 0, "eventlog.json"),
                              (["junk.bin"], 3, "error.json")],
            "svn show": [([], 0, "svn.json"),
                         (["--tpm", "nosuch"], 2, "error.json")],
            "svn advance": [(["--to", "2", "--yes", "--state", "svn-st"], 0, "svn.json"),
                            (["--to", "3", "--state", "svn-st"], 2, "error.json")],  # no --yes off a terminal
            "slb show": [([bd("sl.bin")], 0, "slb-show.json"),
                         (["junk.bin"], 3, "error.json")],
            "manifest show": [(["o/hv.manifest"], 0, "manifest.json"),
                              (["hello.manifest"], 0, "manifest.json"),
                              (["junk.bin"], 3, "error.json")],
            "pki verify": [(["--policy", "p.policy", "--owner", "pki/owner.pub.pem", "--manifest", "hello.manifest",
                             "--kernel", K], 0, "pki-verify.json"),
                           (["--policy", "p2.policy", "--owner", "pki/owner.pub.pem", "--manifest", "hello.manifest",
                             "--kernel", K], 1, "pki-verify.json"),  # refused: rollback
                           (["--policy", "nosuch", "--owner", "pki/owner.pub.pem"], 3, "error.json")],
            "attest": [(attest[1:] + ["lab-7"], 0, "attest.json"),
                       (attest[1:] + ["nobody"], 1, "error.json"),  # unknown endpoint
                       (["--verifier", "http://127.0.0.1:1", "--verifier-key", "v.db.pub.pem", "--token", "rp.token", "lab-7"], 5,
                        "error.json")],
            "sign hypervisor": [(["--image", bd("hv.bin"), "--key", "keys/hv.key.pem", "--version", "1.0.0", "--svn", "2",
                                  "--out", "hv2.manifest"], 0, "signed.json"),
                                 (["--image", bd("hv.bin"), "--key", "keys/hv.key.pem", "--version", "1.0.0", "--svn", "2",
                                  "--out", "hv2.manifest"], 3, "error.json")],  # exists: not replaced
            "sign guest": [(["--kernel", K, "--key", "pki/leaf.key.pem", "--cert", "pki/leaf.crt.pem", "--chain",
                             "pki/intermediate.crt.pem", "--svn", "3", "--name", "hello", "--memory", "8", "--out", "g3.manifest"],
                            0, "signed.json"),
                           (["--kernel", K, "--key", "pki/leaf.key.pem", "--cert", "pki/leaf.crt.pem", "--svn", "3",
                             "--memory", "5", "--out", "g5.manifest"], 2, "error.json")],  # odd MiB: the hypervisor would refuse
            "sign policy": [(["--key", "pki/owner.key.pem", "--anchor", "pki/root.crt.pem", "--min-svn", "hello=3",
                              "--out", "p3.policy"], 0, "signed.json"),
                            (["--key", "pki/owner.key.pem", "--anchor", "nosuch.crt", "--out", "p4.policy"], 3, "error.json")],
            "slb seal": [(["--sl", bd("sl.bin"), "--hv-key", "keys/hv.pub.pem", "--owner", "pki/owner.pub.pem", "--out", "sl-s.bin"],
                          0, "slb-seal.json"),
                         (["--sl", bd("sl.bin"), "--out", "sl-t.bin"], 2, "error.json"),  # neither --hv-key nor --owner
                         (["--sl", bd("sl.bin"), "--key", "keys/hv.pub.pem", "--out", "sl-u.bin"], 2,
                          "error.json")],  # --key is a private key everywhere: renamed, and said so
            "pki init": [(["pki2"], 0, "pki-init.json"),
                         (["pki2"], 3, "error.json")],  # exists: not replaced
            "manufacturer-ca": [(["ca"], 0, "manufacturer-ca.json"),  # made once: the same CA again
                                (["junk.bin"], 3, "error.json")],
            "verifier sign-reference": [(["--in", "ref.json", "--key", "keys/authority.key.pem", "--out", "ref2.cose",
                                          "--hypervisor-signer", "keys/hv.pub.pem"], 0, "sign-reference.json"),
                                         (["--in", "ref.json", "--key", "keys/authority.key.pem", "--out", "ref2.cose"], 3,
                                          "error.json")],  # exists: not replaced
            "eventlog mark-emulated-drtm": [(["o/eventlog.bin", "--text", "qemu: test", "--out", "marked.bin"], 0,
                                             "eventlog-mark.json"),
                                            (["marked.bin", "--text", "again", "--out", "marked2.bin"], 1,
                                             "error.json")],  # refused: it has one already
            "quote": [(["--nonce", "00112233", "--out", "q", "--no-guests"], 0, "quote.json"),
                      (["--nonce", "xyz"], 2, "error.json")],
            "attack list": [([], 0, "attack-list.json"),
                            (["--category", "nosuch"], 2, "error.json")],
            "attack run": [(["cpu-state.io-ports"], 0, "attack-run.json"),
                           (["cpu-state.io-ports", "--protection-off"], 1, "attack-run.json"),
                           (["nosuch"], 2, "error.json")],
            "endpoint": [(["--verifier", url, "--id", "lab-8", "--state", "st/lab-8", "--manufacturer-ca", "ca",
                           "--token", "admin.token", "--signing-key", "keys/hv.key.pem", "--count", "1"], 0, "endpoint.json"),
                         (["--verifier", url, "--id", "lab-9", "--mode", "pull"], 2, "error.json")],  # pull: no verdicts
            "verifier token issue": [(["--key", "keys/issuer.key.pem", "--role", "relying-party", "--out", "rp2.token"], 0,
                                      "token-issue.json"),
                                     (["--key", "keys/issuer.key.pem", "--role", "admin"], 0, "token-issue.json"),
                                     (["--key", "keys/issuer.key.pem", "--role", "relying-party", "--out", "rp2.token"], 3,
                                      "error.json")],  # exists: not replaced
            "report": [(["r", "--out", "rep"], 0, "report.json"),  # the run case above wrote r/
                       (["o", "--out", "rep2"], 3, "error.json")],  # a launch directory: no stats.json
            "doctor": [(["--state", "doctor-st"], None, "doctor.json"),  # 0, or 4 where an optional tool is missing
                       (["--state", "junk.bin"], 3, "doctor.json"),  # a failed check is a report: exit 3
                       (["--state"], 2, "error.json")],
        }
        for c in table:
            p = " ".join(c["path"])
            if not c["json"]:
                continue
            if p not in cases:
                fail(f"{p} has --json but no case in cli_contract_test.py: add its schema and cases")
                continue
            kinds = {s == "error.json" for _, _, s in cases[p]}
            if kinds != {True, False}:
                fail(f"{p}: cli_contract_test.py needs both a success and an error case")
            for args, want, schema in cases[p]:
                if want is None:
                    code, _, _ = run(c["path"] + ["--json"] + args, tmp, env)
                    want = code if code in (0, 4) else 0
                check_json(p, c["path"] + ["--json"] + args, tmp, env, want, schema)
        for p in cases:
            if p not in paths:
                fail(f"cli_contract_test.py has cases for '{p}', which the CLI does not list")
    finally:
        verifier.terminate()
        verifier.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    n_json = sum(1 for c in table if c["json"])
    print(f"cli_contract_test: {len(table)} subcommands ({n_json} with --json), {len(failures)} failure(s)")


main()
sys.exit(1 if failures else 0)
