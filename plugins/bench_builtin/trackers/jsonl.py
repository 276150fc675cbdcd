"""``jsonl``: one JSON line per stored cell, appended to a file as the run goes.

```yaml
trackers:
  - name: jsonl
    params: {path: runs.jsonl}     # relative to the suite's folder
```

Each line: ``run``, ``cell_id``, ``row_id``, ``attack_id``, ``source_row``, ``status``, ``error``,
``metrics``, ``timings``, ``flags`` (empty when the cell is stored: flags come at the end of the
run) and, with ``params: true``, the cell's plugin parameters and traits. ``run_end: true``
appends one line ``{"event": "run_end", ...}`` with the counts and robust accuracy per threat
model. The file is opened, appended and closed for every line, so it can be tailed and a killed
run keeps every line written.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from bench.interfaces import Params, Tracker
from bench.tracking import CellFinished, RunEnded


class JsonlParams(Params):
    path: str = Field(min_length=1, description="file to append to (relative: to the suite's "
                      "folder)")
    params: bool = Field(False, description="add each cell's plugin parameters and traits")
    run_end: bool = Field(False, description="append a run_end line with the counts and the "
                          "robust accuracy per threat model")

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str, info: ValidationInfo) -> str:
        p = Path(value).expanduser()
        base = (info.context or {}).get("suite_dir")
        if not p.is_absolute():
            p = Path(base) / p if base else p.absolute()
        if p.is_dir():
            raise ValueError(f"{value!r} is a directory")
        if not p.parent.is_dir():
            raise ValueError(f"folder {str(p.parent)!r} does not exist")
        return str(p)


class Jsonl(Tracker):
    name = "jsonl"
    version = "1.0.0"
    description = "One JSON line per cell (status, error, metrics, timings, flags) in a file"
    Params = JsonlParams

    def _append(self, data: dict[str, Any]) -> None:
        line = json.dumps(data, sort_keys=True, default=str, allow_nan=False)
        with open(self.params.path, "a", encoding="utf-8") as fh:  # type: ignore[attr-defined]
            fh.write(line + "\n")

    def cell_finished(self, event: CellFinished) -> None:
        data = event.to_dict()
        data["run"] = data.pop("run_id")
        if not self.params.params:  # type: ignore[attr-defined]
            del data["params"], data["traits"]
        self._append(_finite(data))

    def run_end(self, event: RunEnded) -> None:
        if self.params.run_end:  # type: ignore[attr-defined]
            self._append(_finite({"event": "run_end", "run": event.run_id,
                                  "status": event.status, "counts": event.counts,
                                  "threat_models": event.stats.get("threat_models", {})}))


def _finite(value: Any) -> Any:
    """NaN and infinity (not JSON) as None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
