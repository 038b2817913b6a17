#!/usr/bin/env python3
"""chart.py: an SVG chart of a peer-harness run, goro against its peers on every benchmark.

Usage: benches/chart.py RESULTS.raw.txt [OUT.svg]   (default OUT: docs/benchmarks.svg)

Reads the raw lines `run.sh` writes next to its report (`section=... label=... round=...
key=value ...`), takes the median over rounds of each row's primary metric, and draws one
panel per section and metric: a horizontal bar per peer, goro in its own colour, the
c_limit probe greyed. Rows that failed (FAIL=...) are left out. Python 3 stdlib only.
"""
import re
import statistics
import sys
from collections import defaultdict

# section prefix -> [(metric key, title, higher is better)]
METRICS = {
    "http": [("rps", "req/s", True), ("cpu_us_per_req", "server CPU µs/req", False)],
    "echo": [("msgs_per_s", "msgs/s", True), ("cpu_us_per_msg", "server CPU µs/msg", False)],
    "burst": [("wall_ms", "wall ms", False)],
    "pingpong": [("ns_per_roundtrip", "ns/round trip", False)],
    "spawn": [("ns_per_spawn", "ns/spawn", False)],
    "parked": [("bytes_per_parked", "bytes/parked task", False)],
    "pipeline": [("msgs_per_s", "msgs/s", True)],
    "timers": [("wall_ms", "wall ms", False)],
}

PANEL_W, BAR_H, GAP, LABEL_W, TITLE_H = 560, 16, 4, 170, 34


def parse(path):
    """{(section, metric): {label: [values]}} from the raw file."""
    rows = defaultdict(lambda: defaultdict(list))
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or "FAIL=" in line:
                continue
            kv = dict(re.findall(r"(\w+)=(\S+)", line))
            section, label = kv.get("section"), kv.get("label")
            if not section or not label:
                continue
            for prefix, metrics in METRICS.items():
                if section.startswith(prefix):
                    for key, _, _ in metrics:
                        try:
                            rows[(section, key)][label].append(float(kv[key]))
                        except (KeyError, ValueError):
                            pass
    return rows


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def panel(y, section, key, title, higher, values):
    """SVG text of one panel at height y; returns (text, height)."""
    items = sorted(values.items(), key=lambda kv: kv[1], reverse=higher)
    top = max(v for _, v in items) or 1.0
    better = "higher is better" if higher else "lower is better"
    out = [f'<text x="8" y="{y + 20}" class="t">{esc(section)}: {esc(title)} ({better})</text>']
    for i, (label, v) in enumerate(items):
        by = y + TITLE_H + i * (BAR_H + GAP)
        w = max(1.0, (PANEL_W - LABEL_W - 90) * v / top)
        cls = "g" if label.startswith("goro") else ("c" if label.startswith("c_limit") else "p")
        out.append(f'<text x="{LABEL_W - 6}" y="{by + 12}" class="l">{esc(label)}</text>')
        out.append(f'<rect x="{LABEL_W}" y="{by}" width="{w:.1f}" height="{BAR_H}" class="{cls}"/>')
        out.append(f'<text x="{LABEL_W + w + 4:.1f}" y="{by + 12}" class="v">{v:,.2f}</text>')
    return "\n".join(out), TITLE_H + len(items) * (BAR_H + GAP) + 10


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out_path = sys.argv[2] if len(sys.argv) > 2 else "docs/benchmarks.svg"
    rows = parse(sys.argv[1])
    parts, y = [], 0
    order = [p for p in METRICS]
    for (section, key) in sorted(rows, key=lambda sk: (order.index(next(p for p in order if sk[0].startswith(p))), sk)):
        prefix = next(p for p in order if section.startswith(p))
        title, higher = next((t, h) for k, t, h in METRICS[prefix] if k == key)
        medians = {label: statistics.median(vs) for label, vs in rows[(section, key)].items() if vs}
        if not medians:
            continue
        text, h = panel(y, section, key, title, higher, medians)
        parts.append(text)
        y += h
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{PANEL_W}" height="{y + 10}" '
        f'font-family="sans-serif" font-size="12">\n'
        "<style>.t{font-weight:bold}.l{text-anchor:end}.v{fill:#333}"
        ".g{fill:#d9480f}.p{fill:#4c6ef5}.c{fill:#adb5bd}</style>\n"
        f'<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(parts) + "\n</svg>\n"
    )
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(svg)
    print(f"chart.py: {len(parts)} panels -> {out_path}")


if __name__ == "__main__":
    main()
