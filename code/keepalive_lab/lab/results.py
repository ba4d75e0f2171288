"""What an experiment returns: tidy tables, the claims it checked, and the numbers behind them.

A chapter asserts every claim its prose makes (``result.require(...)``), so
the book fails to build when reality disagrees with the text, and glues the
numbers from ``result.values`` into that prose.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from keepalive_lab.lab.timescale import TimeScale

__all__ = ["Claim", "ClaimFailed", "Checked", "ExperimentResult", "ProbeResult"]


@dataclass(frozen=True)
class Claim:
    """A sentence the book says, and whether this run bore it out."""

    name: str
    text: str
    held: bool
    evidence: str


class ClaimFailed(AssertionError):
    """A claim the page relies on did not hold in this run."""


class Checked:
    """What experiments and probes share: a name, claims, and ``require()``."""

    name: str
    claims: list[Claim]

    @property
    def all_held(self) -> bool:
        return all(c.held for c in self.claims)

    def claim(self, name: str) -> Claim:
        for c in self.claims:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no claim {name!r}; it has {[c.name for c in self.claims]}")

    def require(self, *names: str) -> None:
        """Raise :class:`ClaimFailed` unless every named claim (all, when none named) held."""
        chosen = [self.claim(n) for n in names] if names else self.claims
        failed = [c for c in chosen if not c.held]
        if failed:
            lines = "; ".join(f"{c.name}: {c.text} (measured: {c.evidence})" for c in failed)
            raise ClaimFailed(f"{self.name}: {lines}")

    def claims_table(self) -> pd.DataFrame:
        return pd.DataFrame(
            [{"claim": c.text, "held": "yes" if c.held else "NO", "measured": c.evidence} for c in self.claims]
        )


def _plain_values(values: dict[str, Any]) -> dict[str, Any]:
    # numpy scalars print as np.float64(...) in prose; values are glued into text, so use Python types.
    return {k: v.item() if hasattr(v, "item") else v for k, v in values.items()}


@dataclass
class ProbeResult(Checked):
    """A live probe: what it measured (``values``, maybe a ``table``) and the claims it checked."""

    name: str
    values: dict[str, Any]
    claims: list[Claim]
    table: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        self.values = _plain_values(self.values)


@dataclass
class ExperimentResult(Checked):
    """Tables (times in lab seconds from ``t0``), claims and measured values of one run."""

    name: str
    params: Any
    scale: TimeScale
    wall_seconds: float
    tables: dict[str, pd.DataFrame]
    claims: list[Claim]
    values: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.values = _plain_values(self.values)

    def params_dict(self) -> dict[str, Any]:
        """The parameters as plain values (an enum becomes its string)."""
        raw = dataclasses.asdict(self.params) if dataclasses.is_dataclass(self.params) else dict(self.params or {})
        return {k: getattr(v, "value", v) for k, v in raw.items()}

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary: parameters, claims, values, and the tables as records."""

        def plain(value: Any) -> Any:
            if isinstance(value, float):
                return round(value, 6)
            if isinstance(value, (list, tuple)):
                return [plain(v) for v in value]
            if isinstance(value, dict):
                return {str(k): plain(v) for k, v in value.items()}
            if hasattr(value, "item"):  # numpy scalars
                return value.item()
            return value

        return {
            "experiment": self.name,
            "scale_factor": self.scale.factor,
            "wall_seconds": round(self.wall_seconds, 3),
            "params": plain(self.params_dict()),
            "claims": [dataclasses.asdict(c) for c in self.claims],
            "values": plain(self.values),
            "tables": {k: plain(df.to_dict(orient="records")) for k, df in self.tables.items()},
        }
