#!/usr/bin/env python3
"""Maps a REDOUBT_SIM_PROFILE file (platform/sim/cpu/profile.cpp) to the measured images' symbols.

usage: scripts/sim_profile.py PROFILE [BUILD_DIR] [--icount ICOUNT_FILE]
Host-mode RIPs (asid 0) are looked up in BUILD_DIR/images/{sl,sl2,hv}.elf at the load addresses
the loader prints ([loader] SLB at ..., SL stage 2 ... at ..., hypervisor ... at ...: the demo's
defaults below, or --base NAME=ADDR). Guest RIPs are summed per ASID. Prints samples (4 kHz of
process CPU time, scaled to the process CPU time the file records) per image:symbol, largest first. With --icount (lines
"rip count" of retired instructions per block start, a throw-away counter) also instructions
and host ns per instruction for each symbol. --group sums symbols into the categories of
docs/research.md ("Where interpreted SL and hypervisor instructions go").
"""
import bisect, collections, subprocess, sys

args = sys.argv[1:]
bases = {"sl": 0x1000000, "sl2": 0x1080000, "hv": 0x1100000}
icount_file = None
group = False
rest = []
i = 0
while i < len(args):
    if args[i] == "--base":
        n, a = args[i + 1].split("="); bases[n] = int(a, 0); i += 2
    elif args[i] == "--group":
        group = True; i += 1
    elif args[i] == "--icount":
        icount_file = args[i + 1]; i += 2
    else:
        rest.append(args[i]); i += 1
prof = rest[0]
build = rest[1] if len(rest) > 1 else "build"

images = []  # (start, end, name, sorted addrs, names)
for name, base in bases.items():
    out = subprocess.run(["nm", "-n", "-S", "--defined-only", f"{build}/images/{name}.elf"],
                         capture_output=True, text=True, check=True).stdout
    syms = []
    end = 0
    for line in out.splitlines():
        p = line.split()
        if len(p) == 4 and p[2] in "tTwW":
            a, sz = int(p[0], 16), int(p[1], 16)
            syms.append((base + a, base + a + sz, p[3]))
            end = max(end, base + a + sz)
        elif len(p) == 3 and p[1] in "tT":
            syms.append((base + int(p[0], 16), base + int(p[0], 16) + 1, p[2]))
    syms.sort()
    images.append((base, end, name, [s[0] for s in syms], syms))

def where(asid, rip):
    if asid != 0:
        return f"guest asid {asid}"
    for base, end, name, addrs, syms in images:
        if base <= rip < end:
            k = bisect.bisect_right(addrs, rip) - 1
            if k >= 0 and rip < syms[k][1]:
                return f"{name}:{syms[k][2]}"
            return f"{name}:?"
    return f"host-mode {rip:#x}"

samples = collections.Counter()
total = 0
cpu_ms = None
for line in open(prof):
    if line.startswith("# cpu_ms"):
        cpu_ms = float(line.split()[2])
    if line.startswith("#"):
        continue
    a, r, n = line.split()
    n = int(n)
    total += n
    samples["(outside the interpreter)" if a == "-" else where(int(a), int(r, 16))] += n

icounts = collections.Counter()
if icount_file:
    for line in open(icount_file):
        p = line.split()
        if len(p) == 3:
            icounts[where(int(p[0]), int(p[1], 16))] += int(p[2])

ms_per_sample = cpu_ms / total if cpu_ms and total else 0.25
GROUPS = [  # (category, substrings of the symbol), first match wins
    ("ECDSA P-256 (BearSSL ec_p256_m31 + ecdsa_i31)", ["f256", "ccopy", "p256_", "br_i31_", "ecdsa", "le30", "be8_"]),
    ("SHA-1/256/384/512 (BearSSL)", ["sha", "range_dec", "range_enc"]),
    ("X.509 / COSE / CBOR / DER parsing", ["x509", "Der", "Cbor", "cbor", "cose", "Cose", "Manifest", "manifest"]),
    ("DEV and AMD-Vi set-up", ["AmdDev", "page_span", "Iommu"]),
    ("zeroing (PhysMem::zero, REP STOS)", ["PhysMem4zero", "4zeroE"]),
    ("TPM TIS and console", ["Tis", "Harness", "Uart", "Console", "print", "put_"]),
]
def category(k):
    if k.startswith("guest") or k.startswith("(outside"):
        return k if k.startswith("(outside") else "guests (all ASIDs)"
    img, _, sym = k.partition(":")
    for name, keys in GROUPS:
        if any(x in sym for x in keys):
            return f"{img}: {name}"
    return f"{img}: other (exit handling, page tables, start-up)"
if group:
    s2, i2 = collections.Counter(), collections.Counter()
    for k, v in samples.items(): s2[category(k)] += v
    for k, v in icounts.items(): i2[category(k)] += v
    samples, icounts = s2, i2
keys = set(samples) | set(icounts)
rows = sorted(keys, key=lambda k: -samples[k])
W = max([48] + [len(k) for k in keys]) if group else 48
print(f"{'where':{W}} {'ms':>8} {'share':>6} {'M instr':>8} {'ns/instr':>8}")
for k in rows:
    ms = samples[k] * ms_per_sample
    ins = icounts[k]
    nspi = f"{ms * 1e6 / ins:8.2f}" if ins else ""
    print(f"{k:{W}} {ms:8.1f} {100.0 * samples[k] / max(total, 1):5.1f}% {ins / 1e6:8.2f} {nspi}")
print(f"{'total':{W}} {total * ms_per_sample:8.1f} {'':6} {sum(icounts.values()) / 1e6:8.2f}")
