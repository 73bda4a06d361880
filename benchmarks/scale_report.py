"""The scale benchmark's tables (text and Markdown) and its same-run ratios.

Re-render a saved run: ``python -m benchmarks.scale_report benchmarks/results/scale-latest.json``.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from benchmarks.report import _load

# (numerator, denominators summed): every ratio is taken round by round, within one run.
RATIOS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("chatstepfun", ("chatopenai",)),
    ("li_stepfun", ("openailike",)),
    ("core", ("chatopenai",)),
    ("core", ("wire",)),
    ("chatstepfun", ("wire", "lc_floor")),
    ("li_stepfun", ("wire", "li_floor")),
)
STALL_RATIOS = (("chatstepfun", "chatopenai"), ("li_stepfun", "openailike"), ("core", "chatopenai"))


def _per_round(values: list[Any], fmt: Callable[[Any], str]) -> str:
    return " / ".join(fmt(v) for v in values) if values else "-"


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1e3:.1f}"


def _s(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def _mb(v: float | None) -> str:
    return "-" if v is None else f"{v / 1e6:.0f}"


def _pct(v: float) -> str:
    return f"{100 * v:.0f}%"


def _x(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def _int(v: int | None) -> str:
    return "-" if v is None else str(v)


def _labels(result: dict[str, Any]) -> dict[str, str]:
    return {k: v["label"] for k, v in result["contestants"].items()}


def _burst_row(label: str, via: str, rounds: list[dict[str, Any]], stalls: bool) -> list[str]:
    row = [label, via, _per_round([b["errors"] for b in rounds], str)]
    if stalls:
        row.append(_per_round([b["stall_max"] for b in rounds], _s))
    row += [
        _per_round([b["cpu_per_stream"] for b in rounds], _ms),
        _per_round([b.get("gc_seconds", 0) / b["cpu"] if b["cpu"] else 0 for b in rounds], _pct),
        _per_round([b["wall"] for b in rounds], _s),
        _per_round([b["rss_peak"] - b["rss_before"] for b in rounds], _mb),
        _per_round([b["rss_after"] - b["rss_before"] for b in rounds], _mb),
        _per_round(
            [(b["conns_opened"], b["conns_closed"]) for b in rounds],
            lambda oc: "-" if oc[0] is None else f"+{oc[0]} -{oc[1]}",
        ),
    ]
    return row


def _burst_header(stalls: bool) -> list[str]:
    head = ["contestant", "pool", "errors"]
    if stalls:
        head.append("longest stall (s)")
    return [
        *head,
        "CPU / stream (ms)",
        "of it in gc",
        "wall (s)",
        "RSS peak +MB",
        "RSS after +MB",
        "conns opened, closed",
    ]


def ratio_rows(result: dict[str, Any]) -> list[list[str]]:
    """Ours over the peers and floors, per round, for every configuration."""
    labels = _labels(result)
    rows = []
    for config, data in result.get("async", {}).items():
        rounds = data["rounds"]
        for num, dens in RATIOS:
            if not rounds.get(num) or any(not rounds.get(d) for d in dens):
                continue
            n = min(len(rounds[num]), *(len(rounds[d]) for d in dens))
            cpu = [
                rounds[num][i]["cpu_per_stream"] / sum(rounds[d][i]["cpu_per_stream"] for d in dens)
                for i in range(n)
            ]
            stall = "-"
            if len(dens) == 1 and (num, dens[0]) in STALL_RATIOS:
                stall = _per_round(
                    [
                        rounds[num][i]["stall_max"] / rounds[dens[0]][i]["stall_max"]
                        for i in range(n)
                    ],
                    _x,
                )
            name = f"{labels[num]} / {' + '.join(labels[d].split(' (')[0] for d in dens)}"
            rows.append([name, config, _per_round(cpu, _x), _x(statistics.median(cpu)), stall])
    sync = result.get("sync", {}).get("rounds", {})
    for num, dens in RATIOS[:4]:
        if sync.get(num) and all(sync.get(d) for d in dens):
            n = min(len(sync[num]), *(len(sync[d]) for d in dens))
            cpu = [
                sync[num][i]["cpu_per_stream"] / sum(sync[d][i]["cpu_per_stream"] for d in dens)
                for i in range(n)
            ]
            name = f"{labels[num]} / {' + '.join(labels[d] for d in dens)}"
            rows.append(
                [name, "sync threads", _per_round(cpu, _x), _x(statistics.median(cpu)), "-"]
            )
    return rows


def _requests(s: dict[str, Any]) -> str:
    return "-" if s.get("requests") is None else f"{s['requests'] / s['calls']:.2f}"


def _soak_rows(result: dict[str, Any]) -> list[list[str]]:
    labels = _labels(result)
    soak = result["soak"]
    rows = []
    for key in soak["sequential"]:
        s, a = soak["sequential"][key], soak["asyncio_run"].get(key)
        row = [
            labels[key],
            f"{s['errors']}",
            _ms(s["cpu_per_call"]),
            f"{s['rss_growth'] / 1e6:+.2f}",
            f"{s['fds_before']} -> {s['fds_after']}",
        ]
        if a is None:
            row += ["-"] * 6
        else:
            kinds = ", ".join(f"{k} x{v}" for k, v in a["error_kinds"].items())
            row += [
                f"{a['errors']}" + (f" ({kinds})" if kinds else ""),
                _requests(a),
                _ms(a["wall"] / a["calls"]),
                f"{a['rss_growth'] / 1e6:+.2f}",
                f"{a['fds_before']} -> {a['fds_after']}",
                f"{a['threads_before']} -> {a['threads_after']}",
            ]
        rows.append(row)
    return rows


def _tables(result: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    labels = _labels(result)
    c = result["config"]
    tables = []
    for config, data in result.get("async", {}).items():
        pool = "default pools" if config == "default" else f"pools sized to {c['pool_size']:,}"
        rows = [
            _burst_row(labels[k], data["pool_via"].get(k, "-"), rounds, True)
            for k, rounds in data["rounds"].items()
            if rounds
        ]
        title = (
            f"async, {pool}: {c['streams']:,} concurrent streams of {c['chunks']} events in one "
            f"event loop; per round (r1 / r2 / ...)"
        )
        tables.append((title, _burst_header(True), rows))
    rows = ratio_rows(result)
    if rows:
        header = [
            "ratio (same run)",
            "config",
            "CPU / stream, per round",
            "median",
            "longest stall",
        ]
        tables.append(("ratios, round by round", header, rows))
    if "sync" in result:
        rows = [
            _burst_row(labels[k], "default", rounds, False)
            for k, rounds in result["sync"]["rounds"].items()
            if rounds
        ]
        title = (
            f"sync, default pools: {c['sync_streams']:,} streams over {c['threads']} threads; "
            "per round"
        )
        tables.append((title, _burst_header(False), rows))
    if "soak" in result:
        header = [
            "contestant",
            f"{c['soak_calls']:,} calls: errors",
            "CPU / call (ms)",
            "RSS growth (MB)",
            "fds",
            f"{c['soak_runs']} asyncio.run: errors",
            "requests / call",
            "wall / call (ms)",
            "RSS growth (MB)",
            "fds",
            "threads",
        ]
        tables.append(("soak", header, _soak_rows(result)))
    if "pools" in result:
        rows = []
        for name, rounds in result["pools"]["rounds"].items():
            row = _burst_row(name, "-", rounds, True)
            row.append(_per_round([b["conns_open_after"] for b in rounds], _int))
            rows.append(row[:1] + row[2:])
        header = _burst_header(True)
        header = [
            "library max_connections/max_keepalive",
            *header[2:],
            "conns open after",
        ]
        title = f"httpcore pool limits: the core client, {c['streams']:,} concurrent streams"
        tables.append((title, header, rows))
    return tables


def _round_notes(where: str, label: str, rounds: list[dict[str, Any]]) -> list[str]:
    notes = []
    for i, b in enumerate(rounds):
        if b["error_kinds"]:
            kinds = ", ".join(f"{k} x{v}" for k, v in b["error_kinds"].items())
            notes.append(f"[{where}] {label} round {i + 1}: {kinds}")
    return notes


def _notes(result: dict[str, Any]) -> list[str]:
    labels = _labels(result)
    notes = [f"missing: {labels[k]} ({why})" for k, why in result.get("missing", {}).items()]
    parts = [(f"async {cfg}", d) for cfg, d in result.get("async", {}).items()]
    parts += [("sync", result["sync"])] if "sync" in result else []
    parts += [("soak", result["soak"])] if "soak" in result else []
    parts += [("pools", result["pools"])] if "pools" in result else []
    for where, data in parts:
        for key, why in data.get("setup", {}).items():
            notes.append(f"[{where}] {labels.get(key, key)}: {why}")
        for key, rounds in data.get("rounds", {}).items():
            notes += _round_notes(where, labels.get(key, key), rounds)
    for key, s in result.get("soak", {}).get("sequential", {}).items():
        if s["error_kinds"]:
            notes.append(f"[soak] {labels[key]}: {s['error_kinds']}")
    return notes


def _summary(result: dict[str, Any]) -> list[str]:
    m, c = result["machine"], result["config"]
    pkgs = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
    loads = ", ".join(f"{k} {v[0]:.2f}" for k, v in result.get("loadavg", {}).items() if v)
    pace = (
        "whole stream in one write"
        if not c["pace_ms"]
        else (f"{c['pace_events']} events every {c['pace_ms']} ms")
    )
    return [
        f"Machine: {m['cpu']}, {m['usable_cores']} usable cores, Python {m['python']}; "
        f"load {_load(m)}; after each part: {loads}.",
        "",
        f"Packages: {pkgs}.",
        "",
        f"Run: {'`--quick`' if c['quick'] else 'full'}, {c['streams']:,} streams per burst, "
        f"{c['rounds']} rounds, {c['chunks']} events per stream (server: {pace}), "
        f"fixture digest `{c['fixture_digest']}`, {result.get('elapsed_seconds', 0):.0f} s.",
    ]


def render_text(result: dict[str, Any]) -> str:
    lines = _summary(result)
    for title, header, rows in _tables(result):
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        lines += ["", title]
        for r in [header, *rows]:
            lines.append("  ".join(str(x).ljust(w) for x, w in zip(r, widths, strict=True)))
    notes = _notes(result)
    if notes:
        lines += ["", "notes:"] + [f"  {n}" for n in notes]
    return "\n".join(lines)


def render_markdown(result: dict[str, Any]) -> str:
    out = _summary(result)
    for title, header, rows in _tables(result):
        out += ["", f"**{title}**", "", "| " + " | ".join(header) + " |"]
        out.append("|" + "---|" * len(header))
        out += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
    notes = _notes(result)
    if notes:
        out += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    import json
    import sys

    with open(sys.argv[1]) as f:
        print(render_markdown(json.load(f)))
