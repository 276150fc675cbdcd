"""What a contract check returns: the properties it checked, the ones it skipped and why, and
the numbers it measured. A violated property raises ``AssertionError`` instead."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NoReturn


@dataclass
class ContractReport:
    """The outcome of one ``check_*`` call that passed.

    ``checked`` lists the properties verified, in order; ``skipped`` maps each property that did
    not apply to the reason; ``measured`` holds numbers worth asserting on or printing (e.g.
    ``targeted_success``). Assert ``"batch-split invariance" in report.checked`` to make sure a
    property your plugin relies on was really exercised.
    """

    subject: str
    checked: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    measured: dict[str, Any] = field(default_factory=dict)

    def ok(self, prop: str) -> None:
        self.checked.append(prop)

    def skip(self, prop: str, reason: str) -> None:
        self.skipped[prop] = reason

    def fail(self, prop: str, message: str) -> NoReturn:
        raise AssertionError(f"{self.subject}: {prop}: {message}")

    def __str__(self) -> str:
        lines = [f"{self.subject}: {len(self.checked)} properties hold"]
        lines += [f"  ok       {p}" for p in self.checked]
        lines += [f"  skipped  {p} ({why})" for p, why in self.skipped.items()]
        lines += [f"  measured {k} = {v}" for k, v in self.measured.items()]
        return "\n".join(lines)


def instance(cls_or_instance: Any, base: type, what: str, params: dict[str, Any] | None = None
             ) -> Any:
    """A plugin instance from a class (with ``params`` validated by its ``Params``, as the host
    does) or the instance itself."""
    if isinstance(cls_or_instance, type):
        if not issubclass(cls_or_instance, base):
            raise TypeError(f"{what}: {cls_or_instance.__qualname__} is not a subclass of "
                            f"{base.__module__}.{base.__qualname__}")
        cls: Any = cls_or_instance
        return cls(cls.Params.model_validate(params or {}))
    if not isinstance(cls_or_instance, base):
        raise TypeError(f"{what}: expected a {base.__qualname__} class or instance, got "
                        f"{type(cls_or_instance).__qualname__}")
    if params:
        raise TypeError(f"{what}: params are given to a class, not to an instance")
    return cls_or_instance


def label(plugin: Any, kind: str) -> str:
    """``check_attack(fgsm[eps=0.1])``-style subject for messages."""
    params = plugin.params.model_dump(exclude_defaults=True)
    shown = ",".join(f"{k}={v}" for k, v in params.items())
    return f"check_{kind}({plugin.name}{f'[{shown}]' if shown else ''})"
