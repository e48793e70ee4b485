#!/usr/bin/env python3
"""Turns a bench/out/<stamp>/ directory into the markdown table of bench/RESULTS.md.

    report.py OUT_DIR RESULTS_MD TARGET_DIR

Writes OUT_DIR/summary.json (every figure) and OUT_DIR/results.md (the generated part), and
replaces the part of RESULTS_MD between `<!-- results:begin -->` and `<!-- results:end -->`
(everything else, the hand-written header, is kept; a missing file gets a stub header).
"""

import glob
import json
import os
import re
import statistics
import sys

OUT, RESULTS, TARGET = sys.argv[1], sys.argv[2], sys.argv[3]
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def load(name):
    p = os.path.join(OUT, name)
    if not os.path.exists(p):
        return None
    try:
        with open(p) as f:
            return json.load(f)
    except (ValueError, OSError):
        return None


def jsonl(name):
    p = os.path.join(OUT, name)
    rows = []
    if os.path.exists(p):
        for line in open(p):
            try:
                rows.append(json.loads(line))
            except ValueError:
                pass
    return rows


def run(name):
    """One load run: latency (ms), achieved rate, request count, CPU µs per request."""
    r, cpu = load(f"{name}.json"), load(f"{name}.cpu.json")
    if not r:
        return None
    codes = r.get("statusCodeDistribution") or {}
    n = sum(codes.values())
    ok = codes.get("200", 0)
    lp = r.get("latencyPercentiles") or {}
    ms = lambda k: lp.get(k) * 1000 if lp.get(k) is not None else None
    out = {
        "requests": n, "ok": ok, "codes": codes,
        "errors": r.get("errorDistribution") or {},
        "rps": r["summary"].get("requestsPerSec"),
        "p50": ms("p50"), "p90": ms("p90"), "p99": ms("p99"), "p999": ms("p99.9"),
    }
    if cpu and n:
        tick_us = 1e6 / cpu["clk_tck"]
        out["cpu_us"] = cpu["ticks"] * tick_us / n
        out["sim_cpu_us"] = cpu["sim_ticks"] * tick_us / n
        out["busy"] = cpu["ticks"] * tick_us / 1e6 / cpu["wall"]
        out["sim_busy"] = cpu["sim_ticks"] * tick_us / 1e6 / cpu["wall"]
    return out


def fmt(v, d=2):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{d}f}"


def ratio(a, b):
    return f"{a / b:.2f}×" if a is not None and b else "—"


def verdict(ok):
    return "—" if ok is None else ("**yes**" if ok else "**NO**")


S = {"runs": {}}
rates = sorted({int(m.group(1)) for p in glob.glob(os.path.join(OUT, "rate*-gw.json"))
                if (m := re.search(r"rate(\d+)-gw", p))})
for rate in rates:
    S["runs"][f"rate{rate}"] = {"direct": run(f"rate{rate}-direct"), "gw": run(f"rate{rate}-gw")}
S["runs"]["closed"] = {"direct": run("closed-direct"), "gw": run("closed-gw")}
for key in list(S["runs"]):
    S["runs"][key]["proxy"] = run(f"{key}-proxy")
S["idle"], S["peak"] = load("idle.json"), load("peak.json")
S["ttft"] = {"direct": load("ttft-direct.json"), "gw": load("ttft-gw.json")}
S["streams"] = {"direct": load("streams-direct.json"), "gw": load("streams-gw.json")}
rg, rs = jsonl("ready-gw.jsonl"), jsonl("ready-sim.jsonl")
S["ready"] = {
    "gw_ms": [r["ready_ms"] for r in rg if "ready_ms" in r],
    "sim_ms": [r["ready_ms"] for r in rs if "ready_ms" in r],
}
quiet = open(os.path.join(OUT, "quiet.txt")).read() if os.path.exists(os.path.join(OUT, "quiet.txt")) else ""
S["quiet"] = quiet

rows = []  # metric, direct, gateway, added, ratio, target, met


def lat_rows(rate):
    d, g = S["runs"][f"rate{rate}"]["direct"], S["runs"][f"rate{rate}"]["gw"]
    if not d or not g:
        return
    for k in ("p50", "p99"):
        added = g[k] - d[k] if g[k] is not None and d[k] is not None else None
        target, met = "", None
        if rate == 2000 and k == "p99":
            target, met = "added ≤ 1 ms", added is not None and added <= 1.0 and g["ok"] == g["requests"]
        rows.append((f"latency {k} @ {rate:,} req/s (ms)", fmt(d[k], 3), fmt(g[k], 3),
                     fmt(added, 3), ratio(g[k], d[k]), target, verdict(met)))
    rows.append((f"  achieved rate @ {rate:,} (req/s; non-200)", f"{fmt(d['rps'])} ({d['requests'] - d['ok']})",
                 f"{fmt(g['rps'])} ({g['requests'] - g['ok']})", "", "", "", ""))


for rate in rates:
    lat_rows(rate)

c = S["runs"]["closed"]
if c["direct"] and c["gw"]:
    d, g = c["direct"], c["gw"]
    ok = g["ok"] == g["requests"] and g["requests"] > 0
    rows.append((f"max throughput, closed loop, {os.environ.get('CONNS', '64')} conns (req/s)",
                 fmt(d["rps"]), fmt(g["rps"]), "", ratio(g["rps"], d["rps"]), "≥ 15,000",
                 verdict(g["rps"] >= 15000 and ok)))
    rows.append(("  closed loop p50 / p99 (ms)", f"{fmt(d['p50'], 3)} / {fmt(d['p99'], 3)}",
                 f"{fmt(g['p50'], 3)} / {fmt(g['p99'], 3)}", "", "", "", ""))
    if g.get("busy") is not None:
        rows.append(("  core busy in closed loop (gateway core 0; upstream on core 1)",
                     f"{100 * d['sim_busy']:.0f} %", f"{100 * g['busy']:.0f} % (upstream {100 * g['sim_busy']:.0f} %)",
                     "", "", "", ""))
        if g.get("cpu_us"):
            rows.append(("  CPU-bound ceiling, 1 s ÷ CPU per request (req/s)",
                         fmt(1e6 / d["sim_cpu_us"]) if d.get("sim_cpu_us") else "—",
                         fmt(1e6 / g["cpu_us"]), "", "", "", ""))

for key in [f"rate{r}" for r in rates] + ["closed"]:
    d, g = S["runs"][key]["direct"], S["runs"][key]["gw"]
    if not d or not g or g.get("cpu_us") is None:
        continue
    label = "closed loop" if key == "closed" else f"{int(key[4:]):,} req/s"
    target, met = "", None
    if key == "rate2000":
        target, met = "≤ 40 µs", g["cpu_us"] <= 40
    rows.append((f"CPU per request @ {label} (µs; direct = upstream's)", fmt(d["sim_cpu_us"], 1),
                 fmt(g["cpu_us"], 1), "", ratio(g["cpu_us"], d["sim_cpu_us"]), target, verdict(met)))

idle, peak = S["idle"], S["peak"]
if idle:
    rows.append(("RSS idle (MiB)", fmt(idle["sim_rss_kib"] / 1024, 1), fmt(idle["gw_rss_kib"] / 1024, 1), "",
                 ratio(idle["gw_rss_kib"], idle["sim_rss_kib"]), "≤ 20 MiB", verdict(idle["gw_rss_kib"] <= 20 * 1024)))
if peak:
    rows.append(("RSS peak after the load runs, VmHWM (MiB)", fmt(peak["sim_hwm_kib"] / 1024, 1),
                 fmt(peak["gw_hwm_kib"] / 1024, 1), "", ratio(peak["gw_hwm_kib"], peak["sim_hwm_kib"]), "", ""))

td, tg = S["ttft"]["direct"], S["ttft"]["gw"]
if td and tg and td.get("ttft_ms_p50") is not None and tg.get("ttft_ms_p50") is not None:
    added = tg["ttft_ms_p50"] - td["ttft_ms_p50"]
    rows.append((f"time to first content event p50, {tg['n']} sequential streams (ms)", fmt(td["ttft_ms_p50"], 3),
                 fmt(tg["ttft_ms_p50"], 3), fmt(added, 3), ratio(tg["ttft_ms_p50"], td["ttft_ms_p50"]),
                 "added ≤ 0.3 ms", verdict(added <= 0.3 and tg["bad"] == 0)))
    rows.append(("  time to first content event p99 (ms)", fmt(td["ttft_ms_p99"], 3), fmt(tg["ttft_ms_p99"], 3),
                 fmt(tg["ttft_ms_p99"] - td["ttft_ms_p99"], 3), "", "", ""))

sd, sg = S["streams"]["direct"], S["streams"]["gw"]
if sg and sg.get("kib_per_stream") is not None:
    rows.append((f"memory per open stream, {sg['open']:,} of {sg['requested']:,} open (KiB; direct = the sim)",
                 fmt(sd.get("kib_per_stream"), 1) if sd else "—", fmt(sg["kib_per_stream"], 1), "",
                 ratio(sg["kib_per_stream"], sd.get("kib_per_stream") if sd else None), "≤ 64 KiB",
                 verdict(sg["kib_per_stream"] <= 64 and sg["open"] == sg["requested"])))
    rows.append(("  RSS before → with the streams open (MiB)",
                 f"{sd['rss_before_kib'] / 1024:.1f} → {sd['rss_open_kib'] / 1024:.1f}" if sd else "—",
                 f"{sg['rss_before_kib'] / 1024:.1f} → {sg['rss_open_kib'] / 1024:.1f}", "", "", "", ""))

# The floor: the relay-only proxy on the gateway's core, same loads, same run.
floor = []  # metric, proxy, gateway, gateway ÷ proxy
for key in [f"rate{r}" for r in rates] + ["closed"]:
    p, g = S["runs"][key].get("proxy"), S["runs"][key]["gw"]
    if not p or not g:
        continue
    label = "closed loop" if key == "closed" else f"{int(key[4:]):,} req/s"
    if p.get("cpu_us") and g.get("cpu_us"):
        floor.append((f"CPU per request @ {label} (µs)", fmt(p["cpu_us"], 1), fmt(g["cpu_us"], 1),
                      ratio(g["cpu_us"], p["cpu_us"])))
    if key == "closed":
        floor.append(("max throughput, closed loop (req/s)", fmt(p["rps"]), fmt(g["rps"]), ratio(g["rps"], p["rps"])))
    else:
        floor.append((f"latency p99 @ {label} (ms)", fmt(p["p99"], 3), fmt(g["p99"], 3), ratio(g["p99"], p["p99"])))

if S["ready"]["gw_ms"]:
    g = statistics.median(S["ready"]["gw_ms"])
    d = statistics.median(S["ready"]["sim_ms"]) if S["ready"]["sim_ms"] else None
    rows.append((f"ready to serve, median of {len(S['ready']['gw_ms'])} starts (ms)", fmt(d, 1), fmt(g, 1), "",
                 ratio(g, d), "≤ 100 ms", verdict(g <= 100)))


# ---- criterion ------------------------------------------------------------------------------

def criterion(path):
    if not os.path.exists(path):
        return []
    res, name = [], None
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        m = re.match(r"^(\S.*?)\s+time:\s+\[(\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\]", line)
        if m:
            res.append((m.group(1).strip(), m.group(4) + " " + m.group(5)))
            name = None
            continue
        m = re.match(r"^\s+time:\s+\[(\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\]", line)
        if m and name:
            res.append((name, m.group(3) + " " + m.group(4)))
            name = None
            continue
        if line and not line[0].isspace() and not re.match(
                r"^(Benchmarking|Found|Gnuplot|Warning|WARNING|warning|Running|Compiling|Finished|\s)", line):
            name = line.strip()
        m = re.match(r"^\s+thrpt:\s+\[(\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\]", line)
        if m and res:
            n, t = res[-1][:2]
            res[-1] = (n, t, m.group(3) + " " + m.group(4))
    return res


crit = criterion(os.path.join(OUT, "criterion-translate.txt")) + criterion(os.path.join(OUT, "criterion-decision.txt"))
S["criterion"] = crit

machine = {
    "nproc": os.cpu_count(),
    "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
}
S["machine"] = machine

lines = []
stamp = os.path.basename(os.path.normpath(OUT))
up = open(os.path.join(OUT, "upstream.txt")).read().strip() if os.path.exists(os.path.join(OUT, "upstream.txt")) else "sim"
S["upstream"] = up
lines.append(f"Run `{stamp}` — {machine['nproc']} vCPU, {machine['cpu']}; fast upstream: "
             + ("bench/mock-upstream" if up == "mock" else "modelmux sim (zero-delay model)")
             + ". Machine state: " + " ".join(quiet.split()) + ".")
lines.append("")
lines.append("| metric | upstream direct | via gateway | added | gateway ÷ direct | target | met |")
lines.append("|---|---:|---:|---:|---:|---|---|")
for r in rows:
    lines.append("| " + " | ".join(r) + " |")
if floor:
    lines.append("")
    lines.append("The floor: bench/mock-upstream's `mock-proxy`, a relay-only proxy (hyper server, hyper-util "
                 "pooled client, one thread; no parsing, routing, records or metrics) on the gateway's core, "
                 "same loads, same run:")
    lines.append("")
    lines.append("| metric | relay-only proxy | gateway | gateway ÷ proxy |")
    lines.append("|---|---:|---:|---:|")
    for r in floor:
        lines.append("| " + " | ".join(r) + " |")
    S["floor"] = floor
if crit:
    lines.append("")
    lines.append("Criterion (median; `--warm-up-time 1 --measurement-time 3`):")
    lines.append("")
    lines.append("| benchmark | time | throughput |")
    lines.append("|---|---:|---:|")
    for c in crit:
        lines.append(f"| {c[0]} | {c[1]} | {c[2] if len(c) > 2 else ''} |")
generated = "\n".join(lines) + "\n"

with open(os.path.join(OUT, "summary.json"), "w") as f:
    json.dump(S, f, indent=2, default=str)
with open(os.path.join(OUT, "results.md"), "w") as f:
    f.write(generated)

if os.path.exists(RESULTS):
    text = open(RESULTS).read()
else:
    text = "# modelmux benchmark results\n\nCommand: `bash bench/run.sh`\n\n"
if BEGIN in text and END in text:
    pre, rest = text.split(BEGIN, 1)
    _, post = rest.split(END, 1)
    text = pre + BEGIN + "\n" + generated + END + post
else:
    text = text.rstrip("\n") + "\n\n" + BEGIN + "\n" + generated + END + "\n"
with open(RESULTS, "w") as f:
    f.write(text)
print(generated)
