"""``bench run --resume [RUN_ID]``: finish an earlier run of the same suite and configuration in
place, so that the store holds it as one run with every cell exactly once.

Which run: the given one, or the latest run of the suite whose resolved configuration equals
this one's. A run whose driver is still alive is refused. What runs again: every white-box cell
that is missing or not ``ok``, or one of whose transfer cells is (a transfer needs its source's
adversarial examples, which are not stored); their stored remains are deleted first. Networks
come from the model cache, so nothing is trained twice.
"""

from __future__ import annotations

import json
from typing import Any

from bench.errors import ConfigError, StoreError
from bench.results.store import Store
from bench.suite import Suite, differing_fields, result_config


def _canonical(obj: Any) -> Any:
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def find_run(store: Store, suite: Suite, run: str | None) -> int:
    """The id of the run to resume; one-line errors for anything else."""
    config = result_config(_canonical(suite.model_dump(mode="json")))
    if run is None:
        same = [r for r in store.list_runs()
                if r["suite_name"] == suite.name
                and result_config(json.loads(r["suite_json"])) == config]
        if not same:
            raise ConfigError(f"--resume: no earlier run of suite '{suite.name}' with this "
                              f"configuration in {store.path} (see `bench runs`)")
        found = same[-1]
    else:
        found = store.run(store.resolve_run(run))
        stored = result_config(json.loads(found["suite_json"]))
        if stored != config:
            differ = ", ".join(differing_fields(stored, config))
            raise ConfigError(f"--resume {run}: run {found['id']} was made with another "
                              f"configuration (suite fields that differ: {differ})")
    if found["status"] == "running":
        raise StoreError(f"--resume: run {found['id']} is still running (pid "
                         f"{found.get('driver_pid')} on {found.get('driver_host')})")
    return int(found["id"])


__all__ = ["find_run"]
