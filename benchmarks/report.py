"""Ratios, targets (PASS/FAIL) and the text and Markdown tables."""

from __future__ import annotations

from typing import Any

FAMILIES = {  # ours, peer, framework floor
    "langchain": ("chatstepfun", "chatopenai", "lc_floor"),
    "llamaindex": ("li_stepfun", "openailike", "li_floor"),
}

# (id, label, scenario or "imports", numerator, denominator keys summed, limit)
TARGETS = [
    (
        "call_lc_peer",
        "one call: ChatStepFun / ChatOpenAI",
        "call",
        "chatstepfun",
        ("chatopenai",),
        0.4,
    ),
    (
        "call_lc_floor",
        "one call: ChatStepFun / (wire + LC floor)",
        "call",
        "chatstepfun",
        ("wire", "lc_floor"),
        1.3,
    ),
    (
        "stream_lc_build",
        "2,000-chunk stream: ChatStepFun / (wire + LC floor + chunk building)",
        "stream_text",
        "chatstepfun",
        ("wire", "lc_floor_build"),
        1.5,
    ),
    (
        "call_li_peer",
        "one call: LI StepFun / OpenAILike",
        "call",
        "li_stepfun",
        ("openailike",),
        0.4,
    ),
    (
        "stream_lc_peer",
        "2,000-chunk stream: ChatStepFun / ChatOpenAI",
        "stream_text",
        "chatstepfun",
        ("chatopenai",),
        0.25,
    ),
    (
        "stream_lc_floor",
        "2,000-chunk stream: ChatStepFun / (wire + LC floor)",
        "stream_text",
        "chatstepfun",
        ("wire", "lc_floor"),
        1.5,
    ),
    (
        "stream_li_peer",
        "2,000-chunk stream: LI StepFun / OpenAILike",
        "stream_text",
        "li_stepfun",
        ("openailike",),
        0.25,
    ),
    (
        "reason_lc_peer",
        "2,000-chunk reasoning stream: ChatStepFun / ChatOpenAI",
        "stream_reasoning",
        "chatstepfun",
        ("chatopenai",),
        0.25,
    ),
    (
        "reason_lc_floor",
        "2,000-chunk reasoning stream: ChatStepFun / (wire + LC floor)",
        "stream_reasoning",
        "chatstepfun",
        ("wire", "lc_floor"),
        1.5,
    ),
    (
        "reason_li_peer",
        "2,000-chunk reasoning stream: LI StepFun / OpenAILike",
        "stream_reasoning",
        "li_stepfun",
        ("openailike",),
        0.25,
    ),
    (
        "import_lc",
        "import: langchain_stepfun / (langchain_core.language_models + httpx)",
        "imports",
        "langchain_stepfun",
        ("lc_base",),
        1.25,
    ),
    (
        "import_li",
        "import: llama_index_stepfun / llama_index.core.llms",
        "imports",
        "llama_index_stepfun",
        ("li_base",),
        1.1,
    ),
    (
        "import_lc_chat",
        "import: langchain_stepfun / (BaseChatModel + httpx)*",
        "imports",
        "langchain_stepfun",
        ("lc_chat",),
        1.25,
    ),
    (
        "import_li_httpx",
        "import: llama_index_stepfun / (llama_index.core.llms + httpx)*",
        "imports",
        "llama_index_stepfun",
        ("li_httpx",),
        1.1,
    ),
]


def _cpu(scenario: dict[str, Any], key: str) -> float | None:
    entry = scenario.get(key)
    return entry["cpu_median"] if entry else None


def _ratio(num: float | None, dens: list[float | None]) -> float | None:
    if num is None or any(d is None for d in dens) or not dens:
        return None
    total = sum(d for d in dens if d is not None)
    return num / total if total else None


def evaluate_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for tid, label, where, num, dens, limit in TARGETS:
        if where == "imports":
            imports = result.get("imports") or {}
            if not imports:
                continue
            med = {k: v.get("median") for k, v in imports.items()}
            value = _ratio(med.get(num), [med.get(d) for d in dens])
            out.append(_target(tid, label, "fresh interpreter", value, limit))
            continue
        for mode, data in result.get("modes", {}).items():
            sc = data["scenarios"].get(where, {})
            value = _ratio(_cpu(sc, num), [_cpu(sc, d) for d in dens])
            out.append(_target(tid, label, mode, value, limit))
    return out


def _target(tid: str, label: str, mode: str, value: float | None, limit: float) -> dict[str, Any]:
    status = "MISSING" if value is None else ("PASS" if value <= limit else "FAIL")
    return {
        "id": tid,
        "label": label,
        "mode": mode,
        "value": value,
        "limit": limit,
        "status": status,
    }


def ratios(result: dict[str, Any], mode: str) -> list[tuple[str, dict[str, float | None]]]:
    """Per family: ours / peer and ours / (wire + floor), for every scenario."""
    data = result["modes"][mode]["scenarios"]
    labels = {k: v["label"] for k, v in result["contestants"].items()}
    rows = []
    for ours, peer, floor in FAMILIES.values():
        for name, dens in ((labels[peer], (peer,)), (f"(wire + {labels[floor]})", ("wire", floor))):
            row = {}
            for sc, entries in data.items():
                row[sc] = _ratio(_cpu(entries, ours), [_cpu(entries, d) for d in dens])
            rows.append((f"{labels[ours]} / {name}", row))
    return rows


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms" if seconds < 0.01 else f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _fmt_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def _tables(result: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) for every table."""
    tables = []
    labels = {k: v["label"] for k, v in result["contestants"].items()}
    scen = result.get("scenarios", {})
    for mode, data in result.get("modes", {}).items():
        keys = [k for k in labels if any(k in e for e in data["scenarios"].values())]
        header = ["contestant"] + [scen.get(s, s) for s in data["scenarios"]]
        rows = []
        for key in keys:
            row = [labels[key]]
            for entries in data["scenarios"].values():
                e = entries.get(key)
                row.append(
                    "-"
                    if e is None
                    else f"{_fmt_time(e['cpu_median'])} ({_fmt_time(e['wall_median'])})"
                )
            rows.append(row)
        tables.append((f"{mode}: median CPU time per operation (wall)", header, rows))
        ratio_rows = [
            [name] + [_fmt_ratio(v) for v in row.values()] for name, row in ratios(result, mode)
        ]
        tables.append((f"{mode}: ratios of median CPU time", header, ratio_rows))
    imports = result.get("imports")
    if imports:
        rows = [
            [v["label"], "missing" if v.get("missing") else _fmt_time(v["median"])]
            for v in imports.values()
        ]
        tables.append(("import time (median of fresh interpreters)", ["module", "median"], rows))
    memory = result.get("memory")
    if memory:
        chunks = result["config"]["memory_chunks"]
        rows = []
        for key, m in memory.items():
            if "error" in m:
                rows.append([labels[key], "error", m["error"], "-"])
            else:
                rows.append(
                    [
                        labels[key],
                        _fmt_bytes(m["tracemalloc_peak"]),
                        _fmt_bytes(m["rss_growth"]),
                        _fmt_time(m["stream_seconds"]),
                    ]
                )
        tables.append(
            (
                f"peak memory while consuming a {chunks:,}-chunk stream (mock)",
                ["contestant", "tracemalloc peak", "RSS growth", "stream wall time"],
                rows,
            )
        )
    targets = result.get("targets")
    if targets:
        rows = [
            [
                t["label"],
                t["mode"],
                "-" if t["value"] is None else f"{t['value']:.3f}x",
                f"{t['limit']}x",
                t["status"],
            ]
            for t in targets
        ]
        tables.append(("targets", ["target", "mode", "measured", "limit", "result"], rows))
    return tables


def _notes(result: dict[str, Any]) -> list[str]:
    notes = []
    labels = {k: v["label"] for k, v in result["contestants"].items()}
    for key, reason in result.get("missing", {}).items():
        notes.append(f"missing: {labels[key]} ({reason})")
    for mode, data in result.get("modes", {}).items():
        for key, per in data.get("errors", {}).items():
            for sc, err in per.items():
                notes.append(f"[{mode}] {labels[key]} failed on {sc}: {err}")
        for key, per in data.get("checks", {}).items():
            for sc, issues in per.items():
                notes.append(f"[{mode}] {labels[key]} on {sc}: {'; '.join(issues)}")
    return notes


def render_text(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"machine: {m['cpu']}, {m['usable_cores']} usable cores, Python {m['python']}, "
        f"load {_load(m)}",
    ]
    for title, header, rows in _tables(result):
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        lines += ["", title]
        for r in [header, *rows]:
            lines.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
    notes = _notes(result)
    if notes:
        lines += ["", "notes:"] + [f"  {n}" for n in notes]
    return "\n".join(lines)


def _load(m: dict[str, Any]) -> str:
    a, b = m.get("loadavg"), m.get("loadavg_end")
    fmt = lambda v: "?" if not v else f"{v[0]:.2f}"  # noqa: E731
    return f"{fmt(a)} -> {fmt(b)} (1-min average, start -> end)"


def render_markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    pkgs = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
    c = result["config"]
    out = [
        f"Machine: {m['cpu']}, {m['usable_cores']} usable cores ({m['cores']} online), "
        f"Python {m['python']}, {m['platform']}; load {_load(m)}.",
        "",
        f"Packages: {pkgs}.",
        "",
        f"Run: {'`--quick`' if c['quick'] else 'full'}, mode `{c['mode']}`, "
        f"{c['stream_chunks']:,}-chunk streams, {c['concurrency']} concurrent async calls, "
        f"fixture digest `{c['fixture_digest']}`, {result.get('elapsed_seconds', 0):.0f} s.",
    ]
    for title, header, rows in _tables(result):
        out += [
            "",
            f"**{title}**",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
        ]
        out += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
    notes = _notes(result)
    if notes:
        out += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # re-render a saved run: python -m benchmarks.report results/latest.json
    import json
    import sys

    with open(sys.argv[1]) as f:
        print(render_markdown(json.load(f)))
