#!/usr/bin/env python3
"""redoubt report: turn `redoubt run` output directories into plots and a one-page report.

Usage: redoubt_report.py RUN_DIR [RUN_DIR ...] --out DIR

Each RUN_DIR is what `redoubt run` wrote (run.json, stats.json; with `--trace FILE` the
trace that stats.json names). Plots are drawn with matplotlib (Debian python3-matplotlib),
each as PNG and SVG, and report.md links them. Several runs are drawn side by side (for
example the same guests with two engines or two paging modes). docs/research.md explains
every figure. Exit status: 0 written, 2 bad arguments, 3 unreadable or malformed input.
"""
import argparse
import csv
import json
import os
import sys

EXIT_BAD_ARGS, EXIT_BAD_INPUT = 2, 3


JSON_OUT = "--json" in sys.argv[1:]


def fail(code, msg):
    print(f"redoubt report: {msg}", file=sys.stderr)
    if JSON_OUT:  # the CLI's contract: with --json, one error document on stdout (docs/schemas/error.json)
        kind = {EXIT_BAD_ARGS: "usage", EXIT_BAD_INPUT: "environment"}.get(code, "refused")
        print(json.dumps({"error": {"kind": kind, "exit_code": code, "message": msg, "command": "report"}}))
    sys.exit(code)


def load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        fail(EXIT_BAD_INPUT, f"{path}: cannot read ({e.strerror})")
    except json.JSONDecodeError as e:
        fail(EXIT_BAD_INPUT, f"{path}: not JSON ({e.msg} at line {e.lineno})")


TRACE_INT_FIELDS = ("seq", "asid", "guest_instructions", "guest_ns", "host_ns", "host_instructions",
                    "tlb_hits", "tlb_misses", "walks", "walk_refs", "nested_walk_refs")


def load_trace(path):
    """The exit trace as a list of dicts (CSV or JSON lines, tools/research/exit_trace.hpp)."""
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            if path.endswith(".csv"):
                for n, r in enumerate(csv.DictReader(f), start=2):
                    rows.append(normalise(r, path, n))
            else:
                for n, line in enumerate(f, start=1):
                    if line.strip():
                        try:
                            rows.append(normalise(json.loads(line), path, n))
                        except json.JSONDecodeError as e:
                            fail(EXIT_BAD_INPUT, f"{path}:{n}: not a JSON object ({e.msg})")
    except OSError as e:
        fail(EXIT_BAD_INPUT, f"{path}: cannot read the trace ({e.strerror})")
    return rows


def normalise(r, path, line):
    out = dict(r)
    for k in TRACE_INT_FIELDS:
        v = r.get(k)
        if v in (None, ""):
            out[k] = None
            continue
        try:
            out[k] = int(v)
        except (TypeError, ValueError):
            fail(EXIT_BAD_INPUT, f"{path}:{line}: field {k} is not a number: {v!r}")
    if not isinstance(out.get("exit_name"), str):
        fail(EXIT_BAD_INPUT, f"{path}:{line}: no exit_name")
    return out


class Run:
    def __init__(self, d, label):
        self.dir = d
        self.run = load_json(os.path.join(d, "run.json"))
        self.stats = load_json(os.path.join(d, "stats.json"))
        if not isinstance(self.stats.get("guests"), dict):
            fail(EXIT_BAD_INPUT, f"{d}/stats.json: no \"guests\" object (not a `redoubt run` directory?)")
        self.engine = self.stats.get("engine", "?")
        self.paging = self.stats.get("paging", "nested")  # runs before --paging existed: nested
        self.label = label
        self.names = {g.get("asid"): g.get("name") for g in self.run.get("guests", []) if isinstance(g, dict)}
        self.trace = None
        t = self.stats.get("trace")
        if isinstance(t, dict) and t.get("path"):
            p = t["path"] if os.path.exists(t["path"]) else os.path.join(d, os.path.basename(t["path"]))
            self.trace = load_trace(p)


def save(fig, out, name, written):
    for ext in ("png", "svg"):
        p = os.path.join(out, f"{name}.{ext}")
        fig.savefig(p, dpi=110, bbox_inches="tight")
        written.append(p)


def plot_exit_mix(plt, runs, out, written):
    bars, labels = [], []
    for r in runs:
        for g, s in r.stats["guests"].items():
            bars.append(s.get("exits", {}))
            labels.append(f"{g}\n{r.label}" if len(runs) > 1 else g)
    kinds = sorted({k for b in bars for k in b}, key=lambda k: -sum(b.get(k, 0) for b in bars))
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(bars)), 4))
    bottom = [0] * len(bars)
    for k in kinds:
        vals = [b.get(k, 0) for b in bars]
        ax.bar(range(len(bars)), vals, bottom=bottom, label=k)
        bottom = [a + b for a, b in zip(bottom, vals)]
    ax.set_xticks(range(len(bars)), labels, fontsize=8)
    ax.set_ylabel("#VMEXITs")
    ax.set_title("Exit mix per guest")
    ax.legend(fontsize=7, ncol=2)
    save(fig, out, "exit_mix", written)
    plt.close(fig)


def plot_latency(plt, runs, out, written):
    traced = [r for r in runs if r.trace]
    if not traced:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for r in traced:
        host = [x["host_ns"] / 1000 for x in r.trace if x["host_ns"] is not None]
        guest = [x["guest_ns"] / 1000 for x in r.trace if x["guest_ns"] is not None]
        for ax, vals in ((axes[0], host), (axes[1], guest)):
            if vals:
                vals = sorted(vals)
                ax.plot(vals, [(i + 1) / len(vals) for i in range(len(vals))], label=r.label)
    axes[0].set_title("Exit handling: #VMEXIT to next VMRUN")
    axes[1].set_title("Guest time per VMRUN")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("µs (host wall clock)")
        ax.set_ylabel("fraction of exits ≤ x")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    save(fig, out, "exit_latency", written)
    plt.close(fig)
    return True


def plot_tlb(plt, runs, out, written):
    traced = [r for r in runs if r.trace]
    if not traced:
        return False
    fig, ax = plt.subplots(figsize=(8, 4))
    for r in traced:
        by_asid = {}
        for x in r.trace:
            by_asid.setdefault(x["asid"], []).append(x)
        for asid, xs in sorted(by_asid.items()):
            pts = [(x["seq"], x["tlb_hits"] / (x["tlb_hits"] + x["tlb_misses"]))
                   for x in xs if (x["tlb_hits"] or 0) + (x["tlb_misses"] or 0) > 0]
            if pts:
                name = r.names.get(asid, f"asid {asid}")
                ax.plot([p[0] for p in pts], [p[1] for p in pts], label=f"{name} ({r.label})" if len(traced) > 1 else name)
    ax.set_xlabel("exit sequence number")
    ax.set_ylabel("TLB hit rate so far")
    ax.set_title("Guest TLB hit rate over time (cumulative, per ASID)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, out, "tlb_hit_rate", written)
    plt.close(fig)
    return True


def plot_walks(plt, runs, out, written):
    labels, guest_refs, nested_refs = [], [], []
    for r in runs:
        for g, s in r.stats["guests"].items():
            walks = s.get("page_walks", 0) or 0
            nested = s.get("npt_walk_refs", 0) or 0
            total = s.get("walk_refs", 0) or 0
            labels.append(f"{g}\n{r.label}" if len(runs) > 1 else g)
            guest_refs.append((total - nested) / walks if walks else 0)
            nested_refs.append(nested / walks if walks else 0)
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(labels)), 4))
    ax.bar(range(len(labels)), guest_refs, label="guest page-table reads")
    ax.bar(range(len(labels)), nested_refs, bottom=guest_refs, label="nested page-table reads")
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylabel("references per page walk")
    ax.set_title("2-D page walk references per TLB miss")
    ax.legend(fontsize=8)
    save(fig, out, "walk_refs", written)
    plt.close(fig)


PAGING_EXITS = ("EXCP_PF", "CR3_READ", "CR3_WRITE", "CR0_WRITE", "CR4_WRITE", "INVLPG", "NPF")


def paging_pairs(runs):
    """(nested run, shadow run) when the runs include one of each paging mode (the first of each)."""
    nested = next((r for r in runs if r.paging == "nested"), None)
    shadow = next((r for r in runs if r.paging == "shadow"), None)
    return (nested, shadow) if nested and shadow else None


def exit_handling_seconds(run):
    """Host seconds spent handling exits per guest name, from the trace (None without one)."""
    if not run.trace:
        return None
    out = {}
    for x in run.trace:
        if x["host_ns"] is not None:
            name = run.names.get(x["asid"], f"asid {x['asid']}")
            out[name] = out.get(name, 0) + x["host_ns"] / 1e9
    return out


def paging_rows(nested, shadow):
    """Per guest present in both runs: the numbers the shadow-vs-nested figure and table show."""
    rows = []
    hn, hs = exit_handling_seconds(nested), exit_handling_seconds(shadow)
    for g in nested.stats["guests"]:
        if g not in shadow.stats["guests"]:
            continue
        for mode, r, h in (("nested", nested, hn), ("shadow", shadow, hs)):
            s = r.stats["guests"][g]
            ex = s.get("exits", {})
            sh = s.get("shadow", {})
            rows.append({
                "guest": g, "mode": mode,
                "exits": s.get("exits_total", 0),
                "paging_exits": sum(ex.get(k, 0) for k in PAGING_EXITS),
                "by_kind": {k: ex.get(k, 0) for k in PAGING_EXITS},
                "cpu_walk_refs": s.get("walk_refs", 0),
                "nested_refs": s.get("npt_walk_refs", 0),
                "hv_walk_refs": sh.get("walk_refs", 0) + sh.get("p2m_refs", 0),
                "fills": sh.get("fills", 0),
                "vmrun_s": s.get("host_seconds_in_vmrun", 0),
                "handling_s": None if h is None else h.get(g, 0),
            })
    return rows


def plot_paging(plt, runs, out, written):
    pair = paging_pairs(runs)
    if not pair:
        return None
    rows = paging_rows(*pair)
    guests = sorted({r["guest"] for r in rows}, key=[r["guest"] for r in rows].index)
    by = {(r["guest"], r["mode"]): r for r in rows}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    xs = range(len(guests))
    w = 0.38
    for i, (mode, colour) in enumerate((("nested", "tab:blue"), ("shadow", "tab:orange"))):
        off = [x + (i - 0.5) * w for x in xs]
        rs = [by[(g, mode)] for g in guests]
        axes[0].bar(off, [r["paging_exits"] for r in rs], w, color=colour, label=f"{mode}: paging exits")
        axes[0].bar(off, [r["exits"] - r["paging_exits"] for r in rs], w, bottom=[r["paging_exits"] for r in rs],
                    color=colour, alpha=0.35, label=f"{mode}: other exits")
        cpu = [r["cpu_walk_refs"] - r["nested_refs"] for r in rs]
        axes[1].bar(off, cpu, w, color=colour, label=f"{mode}: CPU walk, guest/shadow tables")
        axes[1].bar(off, [r["nested_refs"] for r in rs], w, bottom=cpu, color=colour, alpha=0.55, hatch="//",
                    label=f"{mode}: CPU walk, nested tables")
        axes[1].bar(off, [r["hv_walk_refs"] for r in rs], w, bottom=[a + r["nested_refs"] for a, r in zip(cpu, rs)],
                    color=colour, alpha=0.25, hatch="..", label=f"{mode}: hypervisor's software walk")
        t = [r["vmrun_s"] + (r["handling_s"] or 0) for r in rs]
        axes[2].bar(off, t, w, color=colour, label=f"{mode}")
    axes[0].set_ylabel("#VMEXITs")
    axes[0].set_title("Exits (paging: #PF, CR0/3/4, INVLPG, #NPF)")
    axes[1].set_ylabel("page-table entries read")
    axes[1].set_title("Walk references")
    axes[2].set_ylabel("host seconds")
    have_h = all(r["handling_s"] is not None for r in rows)
    axes[2].set_title("Time: in VMRUN" + (" + exit handling (trace)" if have_h else " (no trace: handling not shown)"))
    for ax in axes:
        ax.set_xticks(list(xs), guests, fontsize=8)
        if ax is not axes[2]:  # counts span 1..10^5; seconds stay linear
            ax.set_yscale("symlog", linthresh=10)
        ax.legend(fontsize=7)
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(f"Shadow vs nested paging: {pair[1].label} vs {pair[0].label}", fontsize=10)
    save(fig, out, "paging_compare", written)
    plt.close(fig)
    return rows


def markdown(runs, out, have_trace, paging=None):
    lines = ["# Redoubt run report", ""]
    lines += ["| run | engine | status | host seconds | guests | exits traced |", "|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r.label} | {r.engine} | {r.run.get('status', '?')} | "
                     f"{r.stats.get('host_seconds', 0):.3f} | {len(r.stats['guests'])} | "
                     f"{len(r.trace) if r.trace else '—'} |")
    lines += ["", "## Guests", "",
              "| run | guest | instructions | exits | VMRUNs | TLB hit rate | walks | refs/walk | s in VMRUN |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        for g, s in r.stats["guests"].items():
            hits, misses = s.get("tlb_hits", 0), s.get("tlb_misses", 0)
            walks = s.get("page_walks", 0)
            rate = f"{hits / (hits + misses):.4f}" if hits + misses else "—"
            rpw = f"{s.get('walk_refs', 0) / walks:.1f}" if walks else "—"
            lines.append(f"| {r.label} | {g} | {s.get('instructions_retired', 0)} | {s.get('exits_total', 0)} | "
                         f"{s.get('vmruns', 0)} | {rate} | {walks} | {rpw} | {s.get('host_seconds_in_vmrun', 0):.4f} |")
    if have_trace:
        lines += ["", "## Exit handling cost (from the traces)", "",
                  "| run | exit | count | median host µs | p99 host µs | median host instructions |", "|---|---|---|---|---|---|"]
        for r in runs:
            if not r.trace:
                continue
            by = {}
            for x in r.trace:
                by.setdefault(x["exit_name"], []).append(x)
            for name, xs in sorted(by.items(), key=lambda kv: -len(kv[1])):
                ns = sorted(x["host_ns"] for x in xs if x["host_ns"] is not None)
                hi = sorted(x["host_instructions"] for x in xs if x["host_instructions"] is not None)
                med = f"{ns[len(ns) // 2] / 1000:.2f}" if ns else "—"
                p99 = f"{ns[min(len(ns) - 1, int(len(ns) * 0.99))] / 1000:.2f}" if ns else "—"
                mhi = str(hi[len(hi) // 2]) if hi else "— (native engine)"
                lines.append(f"| {r.label} | {name} | {len(xs)} | {med} | {p99} | {mhi} |")
    if paging:
        lines += ["", "## Shadow vs nested paging", "",
                  "| guest | paging | exits | paging exits | #PF | CR3 writes | INVLPG | #NPF | CPU walk refs "
                  "| of them nested | hypervisor walk refs | shadow fills | s in VMRUN | s handling exits |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in paging:
            k = r["by_kind"]
            h = "—" if r["handling_s"] is None else f"{r['handling_s']:.4f}"
            lines.append(f"| {r['guest']} | {r['mode']} | {r['exits']} | {r['paging_exits']} | {k['EXCP_PF']} | "
                         f"{k['CR3_WRITE']} | {k['INVLPG']} | {k['NPF']} | {r['cpu_walk_refs']} | {r['nested_refs']} | "
                         f"{r['hv_walk_refs']} | {r['fills']} | {r['vmrun_s']:.4f} | {h} |")
    lines += ["", "## Figures", ""]
    figs = [("exit_mix", "Exit mix per guest"), ("walk_refs", "2-D page walk references")]
    if paging:
        figs.append(("paging_compare", "Shadow vs nested paging"))
    if have_trace:
        figs += [("exit_latency", "Exit handling and guest time"), ("tlb_hit_rate", "TLB hit rate over time")]
    for name, title in figs:
        lines.append(f"### {title}\n\n![{title}]({name}.png) ([SVG]({name}.svg))\n")
    p = os.path.join(out, "report.md")
    with open(p, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return p


def main():
    ap = argparse.ArgumentParser(prog="redoubt report", description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", metavar="RUN_DIR")
    ap.add_argument("--out", required=True, metavar="DIR")
    ap.add_argument("--json", action="store_true", help="print what was written as JSON")
    try:
        a = ap.parse_args()
    except SystemExit as e:
        sys.exit(0 if e.code == 0 else EXIT_BAD_ARGS)
    for d in a.runs:
        if not os.path.isdir(d):
            fail(EXIT_BAD_INPUT, f"{d}: not a directory (give what `redoubt run` wrote, e.g. out/run)")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        fail(EXIT_BAD_INPUT, "matplotlib is missing: install python3-matplotlib (scripts/setup.sh does)")
    labels = [os.path.basename(os.path.normpath(d)) for d in a.runs]
    runs = []
    for i, d in enumerate(a.runs):
        label = labels[i] if labels.count(labels[i]) == 1 else f"{labels[i]}#{i + 1}"
        run = Run(d, label)
        run.label = f"{label} ({run.engine})" if run.paging == "nested" else f"{label} ({run.engine}, {run.paging} paging)"
        runs.append(run)
    os.makedirs(a.out, exist_ok=True)
    written = []
    plot_exit_mix(plt, runs, a.out, written)
    plot_walks(plt, runs, a.out, written)
    have_trace = plot_latency(plt, runs, a.out, written)
    plot_tlb(plt, runs, a.out, written)
    paging = plot_paging(plt, runs, a.out, written)
    written.append(markdown(runs, a.out, have_trace, paging))
    if a.json:
        print(json.dumps({"out": os.path.abspath(a.out), "files": [os.path.abspath(p) for p in written],
                          "runs": [r.dir for r in runs], "traced": have_trace,
                          "paging_compared": bool(paging)}))
    else:
        for p in written:
            print(f"wrote {p}")


if __name__ == "__main__":
    main()
