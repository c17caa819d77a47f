"""What a function's role was granted, against what a local run actually used."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.iam_guard import FUNCTION_USAGE, read_usage


@dataclass
class IamReport:
    granted: set[str]
    used: set[str]
    denied: list[dict[str, Any]]

    @property
    def unused(self) -> set[str]:
        return self.granted - self.used

    @classmethod
    def from_run(cls, policies: list[dict[str, Any]], run_dir: Path, pattern: str = FUNCTION_USAGE) -> IamReport:
        granted: set[str] = set()
        for policy in policies:
            for statement in policy["Statement"]:
                if statement.get("Effect") == "Allow":
                    actions = statement["Action"]
                    granted.update([actions] if isinstance(actions, str) else actions)
        usage = read_usage(run_dir, pattern)
        used = {entry["action"] for entry in usage if entry["allowed"]}
        denied = [entry for entry in usage if not entry["allowed"]]
        return cls(granted, used, denied)
