"""Every benchmark in one run, written as a report: Markdown and a chart.

Runs ``bench.cold_start``, ``bench.syscalls``, ``bench.relay``,
``bench.asgi``, ``bench.deployed`` and ``bench.chat_protocols`` in this one process (each prints its
own tables as it goes; ``bench.asgi``'s cold start once more with every
contender pinned to one CPU, as on a 1-vCPU Lambda: ``bench.asgi --cpus 1
--cold-only``; ``bench.deployed`` runs ``sam build`` and needs the package
index),
collects the :class:`~bench.figures.Figure` each returns, and writes
``bench/report/README.md`` (a table per module: ours, the peer, ours / peer,
the goal, met or not) and ``bench/report/ratios.png`` (how many times better
ours is than each peer, log scale, with the goals marked). A module that
fails is reported as failed; the others still run.

    python -m bench.report [--quick] [--out bench/report] [--only relay,asgi] [--replot]

``--quick`` is for CI-like runs (fewer rounds and repeats: about a minute and
a half on 2 cores); without it, about 3.5 minutes.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.figures import Figure

OUT = Path(__file__).resolve().parent / "report"
CHART = "ratios.png"


@dataclass
class ModuleRun:
    module: str  # "bench.relay"
    seconds: float
    error: str = ""  # empty when it ran


# ---------------------------------------------------------------- rendering


def fmt(value: float | None, unit: str = "") -> str:
    """A value for the table: 3 significant digits, thousands separated.

    >>> fmt(241312.7, "chunks/s"), fmt(0.4812, "ms"), fmt(17, "syscalls"), fmt(None)
    ('241,313 chunks/s', '0.481 ms', '17 syscalls', 'not run')
    """
    if value is None:
        return "not run"
    if value == 0:
        text = "0"
    elif abs(value) >= 1000 or float(value).is_integer():
        text = f"{value:,.0f}"
    else:
        digits = max(0, 2 - int(f"{abs(value):e}".split("e")[1]))
        text = f"{value:.{digits}f}"
    return f"{text} {unit}".rstrip()


def _ratio_text(figure: Figure) -> str:
    return "" if figure.ratio is None else f"{figure.ratio:.2f}"


def _met_text(figure: Figure) -> str:
    return {True: "yes", False: "**no**", None: ""}[figure.met]


def render_markdown(
    figures: Sequence[Figure],
    *,
    runs: Sequence[ModuleRun] = (),
    chart: str | None = CHART,
    header: Sequence[str] = (),
) -> str:
    """The report as Markdown: a table per group of figures, in order.

    ``ours / peer`` is the measured ratio; ``goal`` bounds it (``<= 0.67``
    when lower is better, ``>= 1.00`` when higher is); ``advantage`` is how
    many times better ours is (above 1: ahead). Pure: same figures, same text.
    """
    lines = ["# lambdastream benchmarks", ""]
    lines += [*header, ""] if header else []
    if chart:
        lines += [
            f"![How many times better lambdastream is than each peer, log scale]({chart})",
            "",
            "The chart shows each figure's *advantage*: how many times better ours is than"
            " the peer (peer / ours when lower is better, ours / peer when higher is);"
            " above 1 ours is ahead. A black mark is the goal.",
            "",
        ]
    groups: dict[str, list[Figure]] = {}
    for figure in figures:
        groups.setdefault(figure.group or "other", []).append(figure)
    for group, members in groups.items():
        lines += [f"## {group}", ""]
        lines += [
            "| figure | lambdastream | peer | peer's | ours / peer | goal | advantage | met |",
            "| --- | ---: | --- | ---: | ---: | ---: | ---: | --- |",
        ]
        for f in members:
            advantage = "" if f.advantage is None else f"{f.advantage:.2f}x"
            lines.append(
                f"| {f.name} ({f.better} is better) | {fmt(f.ours, f.unit)} | {f.peer_name}"
                f" | {fmt(f.peer, f.unit)} | {_ratio_text(f)} | {f.goal_text} | {advantage}"
                f" | {_met_text(f)} |"
            )
        notes = [f for f in members if f.note]
        if notes:
            lines.append("")
            lines += [f"- {f.name} vs {f.peer_name}: {f.note}" for f in notes]
        lines.append("")
    goals = [f for f in figures if f.met is not None]
    if goals:
        met = sum(1 for f in goals if f.met)
        lines += [f"**Goals met: {met} of {len(goals)}.**", ""]
        missed = [f for f in goals if not f.met]
        lines += [f"- missed: {f.group}: {f.name} vs {f.peer_name}" for f in missed]
        lines += [""] if missed else []
    if runs:
        lines += ["## runs", "", "| module | seconds | result |", "| --- | ---: | --- |"]
        for run in runs:
            result = f"failed: {run.error}" if run.error else "ok"
            lines.append(f"| `{run.module}` | {run.seconds:.0f} | {result} |")
        lines.append("")
    return "\n".join(lines)


def write_chart(figures: Sequence[Figure], path: Path) -> Path:
    """A horizontal bar per measured figure: its advantage, log scale; goals marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    shown = [f for f in figures if f.advantage is not None]
    height = max(2.5, 0.36 * len(shown) + 1.4)
    fig, ax = plt.subplots(figsize=(12, height), dpi=100)
    try:
        labels = [f"{f.group}: {f.name} vs {f.peer_name}" for f in shown]
        labels = [label if len(label) <= 100 else label[:97] + "..." for label in labels]
        values = [f.advantage for f in shown if f.advantage is not None]
        colors = [
            "#c0392b" if f.met is False else "#2e86c1" if f.met is None else "#27ae60"
            for f in shown
        ]
        y = list(range(len(shown)))[::-1]
        ax.barh(y, values, color=colors, height=0.6)
        for yi, f in zip(y, shown, strict=True):
            if f.goal is not None:
                ax.plot([f.goal, f.goal], [yi - 0.38, yi + 0.38], color="black", lw=2)
            ax.text(f.advantage, yi, f" {f.advantage:.2f}x", va="center", ha="left", fontsize=8)  # type: ignore[arg-type]
        ax.axvline(1.0, color="grey", lw=1, ls="--")
        ax.set_xscale("log")
        if values:
            goals = [f.goal for f in shown if f.goal]
            low = min([*values, *goals], default=1.0)
            high = max([*values, *goals], default=1.0)
            ax.set_xlim(min(0.5, low / 1.3), max(2.0, high * 1.6))
        ax.set_yticks(y)
        ax.set_yticklabels(labels, fontsize=8)
        ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}x"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("times better than the peer (log scale; above 1: lambdastream ahead)")
        ax.set_title(
            "lambdastream against its peers\n"
            "green: goal met, red: missed, blue: no goal; black mark: the goal",
            fontsize=10,
        )
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


def write_report(
    figures: Sequence[Figure],
    out: Path,
    *,
    runs: Sequence[ModuleRun] = (),
    header: Sequence[str] = (),
) -> tuple[Path, Path]:
    """Write ``out/README.md``, ``out/ratios.png`` and the figures as data
    (``out/figures.json``, for ``--replot``); return the first two paths."""
    out.mkdir(parents=True, exist_ok=True)
    data = {
        "header": list(header),
        "runs": [asdict(run) for run in runs],
        "figures": [asdict(figure) for figure in figures],
    }
    (out / "figures.json").write_text(json.dumps(data, indent=1) + "\n")
    chart = write_chart(figures, out / CHART)
    markdown = out / "README.md"
    markdown.write_text(render_markdown(figures, runs=runs, chart=CHART, header=header))
    return markdown, chart


# ---------------------------------------------------------------- running


def _modules(quick: bool) -> dict[str, Callable[[], list[Figure]]]:
    from bench import asgi, chat_protocols, cold_start, deployed, relay, syscalls

    return {
        "bench.cold_start": lambda: cold_start.run(runs=7 if quick else 21),
        "bench.syscalls": lambda: syscalls.run(invocations=20 if quick else 100),
        "bench.relay": lambda: relay.run(
            runs=100 if quick else 1000, repeat=1 if quick else 5, quick=quick
        ),
        "bench.asgi": lambda: asgi.run(quick=quick),
        "bench.asgi --cpus 1": lambda: asgi.run(quick=quick, cpus=1, cold_only=True),
        "bench.deployed": lambda: deployed.run(quick=quick),
        "bench.chat_protocols": lambda: chat_protocols.run(rounds=10 if quick else 30),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (CI-like)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"default {OUT}")
    parser.add_argument("--only", default="", help="comma-separated: cold_start,relay,...")
    parser.add_argument(
        "--replot", action="store_true", help="rewrite the report from OUT/figures.json, no run"
    )
    args = parser.parse_args(argv)
    if args.replot:
        data = json.loads((args.out / "figures.json").read_text())
        stored = [Figure(**f) for f in data["figures"]]
        stored_runs = [ModuleRun(**r) for r in data["runs"]]
        markdown, chart = write_report(stored, args.out, runs=stored_runs, header=data["header"])
        print(f"report: {markdown}\nchart:  {chart}")
        return 0
    modules = _modules(args.quick)
    if args.only:
        wanted = {f"bench.{name.strip()}" for name in args.only.split(",")}
        unknown = wanted - {name.split()[0] for name in modules}
        if unknown:
            parser.error(f"unknown modules: {', '.join(sorted(unknown))}")
        modules = {name: fn for name, fn in modules.items() if name.split()[0] in wanted}
    figures: list[Figure] = []
    runs: list[ModuleRun] = []
    for name, fn in modules.items():
        print(f"\n==== {name} ====", flush=True)
        t0 = time.monotonic()
        try:
            figures += fn()
            runs.append(ModuleRun(name, time.monotonic() - t0))
        except Exception as exc:  # a failed module is reported; the others still run
            traceback.print_exc()
            runs.append(ModuleRun(name, time.monotonic() - t0, f"{type(exc).__name__}: {exc}"))
    header = [
        f"`make bench` (`python -m bench.report{' --quick' if args.quick else ''}`),"
        f" {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, one run:"
        f" {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.machine()},"
        f" loopback only. Each module's own printout has the details"
        f" (`python -m bench.<module> --help`).",
    ]
    markdown, chart = write_report(figures, args.out, runs=runs, header=header)
    print(f"\nreport: {markdown}\nchart:  {chart}")
    met = [f.met for f in figures if f.met is not None]
    print(
        f"goals met: {sum(met)} of {len(met)}; modules failed: {sum(bool(r.error) for r in runs)}"
    )
    return 1 if any(r.error for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
