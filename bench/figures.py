"""One benchmark figure: ours against one peer, as data (pure, no I/O).

Every bench module returns a list of :class:`Figure` from its ``run()`` as
well as printing it, so that ``bench.report`` runs them all in one process
and writes one report.

A figure compares our value with a peer's (another runtime, relay or
adapter), or with a fixed target (``peer_name="target"``). ``better`` says
which direction wins. ``ratio`` is ours / peer as measured; ``advantage``
turns it so that above 1 is always ours ahead (peer / ours when lower is
better): the chart plots that. ``goal`` is the advantage we aim for: 1.5
is "1.5x better than the peer", 1.0 "at least as good", 1 / 1.05 "within
5% of it". A figure that could not be measured keeps ``ours`` or ``peer``
as ``None`` and says why in ``note``.

    >>> f = Figure("cold start", 100.0, "uvicorn + proxy", 200.0, "ms", goal=1.5)
    >>> f.ratio, f.advantage, f.met
    (0.5, 2.0, True)
    >>> g = Figure("chunks/s", 90.0, "node", 100.0, "chunks/s", better="higher", goal=1.0)
    >>> round(g.advantage, 2), g.met, g.goal_text
    (0.9, False, '>= 1.00')
    >>> Figure("cold start", 105.0, "mangum", 100.0, "ms", goal=1 / 1.05).goal_text
    '<= 1.05'
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class Figure:
    name: str  # what is measured, e.g. "ASGI cold start, FastAPI hello (median)"
    ours: float | None  # our value, in ``unit``; None: not measured
    peer_name: str  # who we compare with ("target" for a fixed target)
    peer: float | None  # the peer's value, in ``unit``
    unit: str  # "ms", "chunks/s", "us/chunk", "syscalls", ...
    better: str = "lower"  # "lower" or "higher"
    goal: float | None = None  # the advantage (x, above 1 = ours ahead) we aim for
    group: str = ""  # the bench module: "cold start", "relay", "asgi", ...
    note: str = ""  # how it was measured, or why it was not

    def __post_init__(self) -> None:
        if self.better not in ("lower", "higher"):
            raise ValueError(f"better must be 'lower' or 'higher', not {self.better!r}")

    @property
    def measured(self) -> bool:
        return _usable(self.ours) and _usable(self.peer)

    @property
    def ratio(self) -> float | None:
        """ours / peer, as measured."""
        if not self.measured or self.peer == 0:
            return None
        return self.ours / self.peer  # type: ignore[operator]

    @property
    def advantage(self) -> float | None:
        """How many times better ours is (above 1: ours ahead; below: behind)."""
        ratio = self.ratio
        if ratio is None or ratio == 0:
            return None
        return ratio if self.better == "higher" else 1 / ratio

    @property
    def met(self) -> bool | None:
        """Whether the goal is met; None without a goal or a measurement."""
        if self.goal is None or self.advantage is None:
            return None
        return self.advantage >= self.goal * (1 - 1e-9)

    @property
    def goal_text(self) -> str:
        """The goal as a bound on ours / peer: '<= 0.67', '>= 1.00'."""
        if self.goal is None:
            return ""
        if self.better == "higher":
            return f">= {self.goal:.2f}"
        return f"<= {1 / self.goal:.2f}"


def _usable(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value >= 0


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile.

    >>> percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50), percentile(list(range(1, 101)), 90)
    (3.0, 90)
    """
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]
