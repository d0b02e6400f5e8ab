#!/usr/bin/env python3
"""Maps a REDOUBT_SIM_PROFILE file (platform/sim/cpu/profile.cpp) to the measured images' symbols.

usage: scripts/sim_profile.py PROFILE [BUILD_DIR] [--icount ICOUNT_FILE]
Host-mode RIPs (asid 0) are looked up in BUILD_DIR/images/{sl,sl2,hv}.elf at the load addresses
the loader prints ([loader] SLB at ..., SL stage 2 ... at ..., hypervisor ... at ...: the demo's
defaults below, or --base NAME=ADDR). Guest RIPs are summed per ASID. Prints samples (4 kHz of
process CPU time, scaled to the process CPU time the file records) per image:symbol, largest first. With --icount (lines
"rip count" of retired instructions per block start, a throw-away counter) also instructions
and host ns per instruction for each symbol.
"""
import bisect, collections, subprocess, sys

args = sys.argv[1:]
bases = {"sl": 0x1000000, "sl2": 0x1080000, "hv": 0x1100000}
icount_file = None
rest = []
i = 0
while i < len(args):
    if args[i] == "--base":
        n, a = args[i + 1].split("="); bases[n] = int(a, 0); i += 2
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
keys = set(samples) | set(icounts)
rows = sorted(keys, key=lambda k: -samples[k])
print(f"{'where':48} {'ms':>8} {'share':>6} {'M instr':>8} {'ns/instr':>8}")
for k in rows:
    ms = samples[k] * ms_per_sample
    ins = icounts[k]
    nspi = f"{ms * 1e6 / ins:8.2f}" if ins else ""
    print(f"{k:48} {ms:8.1f} {100.0 * samples[k] / max(total, 1):5.1f}% {ins / 1e6:8.2f} {nspi}")
print(f"{'total':48} {total * ms_per_sample:8.1f} {'':6} {sum(icounts.values()) / 1e6:8.2f}")
