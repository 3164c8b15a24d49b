#!/usr/bin/env python3
"""Plot bench/counts.sh's output as an SVG.

The plot shows CPU per move and RSS per stream against the stream count. It
has one line per server (ours, the per-viewer walks, nchan and the C
floor), solid unpinned and dashed with PIN=1. A point where a server
delivered fewer than 9.9 of the 10 moves a second is labelled with what it
delivered. The script uses only the standard library, so no plotting
package is needed. It also prints BENCHMARKS.md's table per count, in
Markdown, to stdout.

    python3 bench/plot.py docs/bench-counts.svg counts.txt
"""
import re
import sys

SERIES = [  # label in compare.sh, name in the legend, colour
    ("new", "Go, shared world", "#1f77b4"),
    ("walks", "Go, per-viewer walks", "#2ca02c"),
    ("nchan", "nchan (2 workers)", "#ff7f0e"),
    ("nchan/1", "nchan (1 worker)", "#d62728"),
    ("writeloop", "C floor (write loop)", "#555555"),
]
LINE = re.compile(r"round=\d+ (\S+)\s+load=\S+ streams=(\d+) moves/s=([\d.]+) cpu_us=([\d.]+) user=([\d.]+) sys=([\d.]+) "
                  r"p50=(\d+) p99=(\d+) lost=(\d+) err=(\d+) rss_kib=([\d.]+)(?: ksoftirqd_us=([\d.]+))?")
HEAD = re.compile(r"=== PIN=(\d) N=(\d+)")


def parse(path):
    """Returns {(label, pin): {n: (cpu, rss, moves, the whole line's fields)}}."""
    out, pin, n = {}, 0, None
    for line in open(path):
        if m := HEAD.match(line):
            pin, n = int(m[1]), int(m[2])
        elif m := LINE.match(line):
            label = m[1]
            count = n or round(int(m[2]) / 1000) * 1000
            out.setdefault((label, pin), {})[count] = (float(m[4]), float(m[11]), float(m[3]), m)
    return out


def panel(x0, title, unit, data, idx, xmax, svg):
    """Draws one panel at x0, with value idx of each point against the count."""
    w, h, top = 380, 260, 50
    ymax = max(v[idx] for pts in data.values() for v in pts.values()) * 1.15 or 1
    step = nice(ymax / 5)
    sx = lambda n: x0 + n / xmax * w
    sy = lambda v: top + h - v / ymax * h
    svg.append(f'<text x="{x0 + w / 2}" y="{top - 18}" text-anchor="middle" font-weight="bold">{title}</text>')
    v = 0.0
    while v <= ymax:
        svg.append(f'<line x1="{x0}" x2="{x0 + w}" y1="{sy(v):.1f}" y2="{sy(v):.1f}" stroke="#ddd"/>')
        svg.append(f'<text x="{x0 - 6}" y="{sy(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
        v += step
    for n in (0, 5000, 10000, 15000, 20000):
        svg.append(f'<text x="{sx(n):.1f}" y="{top + h + 18}" text-anchor="middle">{n:,}</text>')
    svg.append(f'<text x="{x0 + w / 2}" y="{top + h + 38}" text-anchor="middle">streams at 10 moves/s</text>')
    svg.append(f'<text x="{x0 - 40}" y="{top + h / 2}" text-anchor="middle" transform="rotate(-90 {x0 - 40} {top + h / 2})">{unit}</text>')
    svg.append(f'<rect x="{x0}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#999"/>')
    for label, _, colour in SERIES:
        for pin in (0, 1):
            pts = data.get((label, pin))
            if not pts:
                continue
            ns = sorted(pts)
            path = " ".join(f"{sx(n):.1f},{sy(pts[n][idx]):.1f}" for n in ns)
            dash = ' stroke-dasharray="6 4"' if pin else ""
            svg.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
            for n in ns:
                cx, cy = sx(n), sy(pts[n][idx])
                svg.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="{colour}"/>')
                if idx == 0 and pts[n][2] < 9.9:  # on the CPU panel only
                    svg.append(f'<text x="{cx + 5:.1f}" y="{cy - 6:.1f}" fill="{colour}" font-size="11">{pts[n][2]:.1f}/s</text>')


def nice(x):
    """Returns a round step near x, which is 1, 2 or 5 times a power of ten."""
    p = 10 ** len(str(int(x))) / 10 if x >= 1 else 0.1
    for m in (1, 2, 5, 10):
        if m * p >= x:
            return m * p
    return 10 * p


def tables(data):
    """Prints one Markdown table per count and pinning. Each row is a server.
    Its CPU per move is also given as a ratio to the C floor's and to
    nchan's."""
    counts = sorted({n for pts in data.values() for n in pts})
    for n in counts:
        for pin in (0, 1):
            rows = [(name, data[(label, pin)][n]) for label, name, _ in SERIES if n in data.get((label, pin), {})]
            if not rows:
                continue
            ref = {label: data.get((label, pin), {}).get(n) for label in ("writeloop", "nchan")}
            print(f"\n**{n:,} streams, {'PIN=1 (server on core 0, load on core 1)' if pin else 'unpinned'}**\n")
            print("| server | streams held | moves/s a stream | CPU per move (user + system) | × C floor | × nchan | delay p50 / p99 (ms) | lost | failed | RSS per stream | ksoftirqd per move |")
            print("|---|---|---|---|---|---|---|---|---|---|---|")
            for name, (cpu, rss, moves, m) in rows:
                ratio = lambda r: f"{cpu / r[0]:.2f}" if r else "–"
                print(f"| {name} | {int(m[2]):,} | {moves:.2f} | {cpu:.2f} µs ({float(m[5]):.2f} + {float(m[6]):.2f}) | "
                      f"{ratio(ref['writeloop'])} | {ratio(ref['nchan'])} | {int(m[7]):,} / {int(m[8]):,} | "
                      f"{int(m[9]):,} | {int(m[10]):,} | {f'{rss:.1f} KiB' if rss else '–'} | "
                      f"{f'{float(m[12]):.2f} µs' if m[12] else '–'} |")

def main():
    if len(sys.argv) < 3:
        sys.exit("usage: plot.py OUT.svg COUNTS_OUTPUT...")
    data = {}
    for f in sys.argv[2:]:  # a later file's run of a count replaces an earlier one's
        for key, pts in parse(f).items():
            data.setdefault(key, {}).update(pts)
    if not data:
        sys.exit("plot.py: no compare.sh lines found")
    svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="960" height="440" font-family="sans-serif" font-size="12">',
           '<rect width="100%" height="100%" fill="white"/>']
    panel(80, "Server CPU per move delivered", "µs (user + system)", data, 0, 20000, svg)
    panel(560, "Server RSS per stream", "KiB", data, 1, 20000, svg)
    x = 80
    for label, name, colour in SERIES:
        if any(k[0] == label for k in data):
            svg.append(f'<line x1="{x}" x2="{x + 24}" y1="396" y2="396" stroke="{colour}" stroke-width="2"/>')
            svg.append(f'<text x="{x + 30}" y="400">{name}</text>')
            x += 40 + 7 * len(name)
    svg.append('<text x="80" y="425">solid: unpinned; dashed: PIN=1 (server on core 0, load on core 1); '
               'label: moves/s a stream got, where under 10; the C floor keeps no memory a stream</text>')
    svg.append("</svg>")
    open(sys.argv[1], "w").write("\n".join(svg) + "\n")
    tables(data)


if __name__ == "__main__":
    main()
