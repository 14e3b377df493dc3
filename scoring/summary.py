"""What a scoring run prints: rows, time, rate, and what the model had to paper over per feature."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from features.tally import WarningTally


@dataclass
class Summary:
    out: Path
    files: int
    counts: WarningTally
    rejects: int
    seconds: float
    workers: int
    cpu_seconds: float | None = None  # this process's CPU time while scoring (all its threads)

    @property
    def rows(self) -> int:
        return self.counts.rows

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def rate(self, n: int) -> float:
        return n / self.rows if self.rows else 0.0

    def lines(self) -> list[str]:
        c = self.counts
        where = "1 process" if self.workers == 1 else f"{self.workers} Ray workers"
        if self.cpu_seconds:  # a busy machine slows the wall clock, not the CPU time a row costs
            where += f", {self.rows / self.cpu_seconds:,.0f} rows per CPU second"
        lines = [
            f"scored {self.rows:,} rows from {self.files} file(s) in {self.seconds:.2f} s "
            f"({self.rows_per_second:,.0f} rows/s, {where}) → {self.out}",
            f"rejected rows: {self.rejects:,}",
        ]
        if c.unknown:
            width = max(len("categorical"), *map(len, c.unknown)) + 2
            lines.append(f"{'categorical':<{width}}{'unseen':>9}{'missing':>9}")
            lines += [
                f"{name:<{width}}{self.rate(c.unknown[name]):>9.2%}{self.rate(c.missing[name]):>9.2%}" for name in c.unknown
            ]
        if c.imputed:
            width = max(len("numeric"), *map(len, c.imputed)) + 2
            lines.append(f"{'numeric':<{width}}{'imputed':>9}{'clipped':>9}")
            lines += [
                f"{name:<{width}}{self.rate(c.imputed[name]):>9.2%}{self.rate(c.clipped[name]):>9.2%}" for name in c.imputed
            ]
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "files": self.files,
            "rows": self.rows,
            "rejects": self.rejects,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second),
            "workers": self.workers,
            "cpu_seconds": None if self.cpu_seconds is None else round(self.cpu_seconds, 3),
            "unseen_rate": {k: self.rate(v) for k, v in self.counts.unknown.items()},
            "missing_rate": {k: self.rate(v) for k, v in self.counts.missing.items()},
            "imputed_rate": {k: self.rate(v) for k, v in self.counts.imputed.items()},
        }
