"""``bench report -f NAME [-o FILE] [--opt KEY=VALUE ...]``: a reporter plugin's options
validated, the reporter called, its failures named in one line.

Reporters declare ``Options`` (:class:`bench.interfaces.Reporter`); one written for the old
``render(self, report)`` (a single argument) gets the results only and its ``Params`` as
options, so third-party reporters of earlier releases keep working.
"""

from __future__ import annotations

import difflib
import inspect
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bench.errors import BenchError, ConfigError, PluginError
from bench.interfaces import Params, Reporter


def options_model(cls: type[Reporter]) -> type[Params]:
    """A reporter's options: its ``Options``, else (older reporters) its ``Params``."""
    options = getattr(cls, "Options", Params)
    return options if options is not Params else cls.Params


def new_style(cls: type[Reporter]) -> bool:
    """True when ``render`` takes the options too (``render(self, results, options)``)."""
    try:
        params = list(inspect.signature(cls.render).parameters.values())[1:]
    except (TypeError, ValueError):
        return True
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2


def parse_options(cls: type[Reporter], texts: list[str], metric: str | None) -> Params:
    """``--opt KEY=VALUE`` items (values read as YAML) validated against the reporter's
    options; ``metric`` (``--metric``) fills an option ``metric`` that ``--opt`` leaves out."""
    from bench.suite import describe_validation_error
    from bench.yamlsafe import load_yaml

    model = options_model(cls)
    fields = sorted(model.model_fields)
    values: dict[str, Any] = {}
    for text in texts:
        key, sep, value = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--opt {text!r}: expected KEY=VALUE")
        if key not in model.model_fields:
            near = difflib.get_close_matches(key, fields, n=3, cutoff=0.5)
            hint = f" Did you mean: {', '.join(near)}?" if near else ""
            raise ConfigError(f"reporter '{cls.name}': --opt {key}: unknown option.{hint} "
                              f"Options: {', '.join(fields) or '(none)'}")
        values[key] = load_yaml(value, f"--opt {key}")
    if metric is not None and "metric" in model.model_fields:
        values.setdefault("metric", metric)
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(f"reporter '{cls.name}': --opt "
                          f"{describe_validation_error(exc, ())}") from None


def run_reporter(cls: type[Reporter], options: Params, results: Any,
                 output: Path | None) -> str | None:
    """Render ``results`` (returns the text) or, with ``output``, write it (returns None).
    A reporter's own bug is one :class:`PluginError` line naming it."""
    name = cls.name
    if output is None and cls.needs_output:
        raise ConfigError(f"reporter '{name}' writes files: give -o FILE")
    try:
        reporter = cls(options)
        if not new_style(cls):
            text = reporter.render(results)  # type: ignore[call-arg]
        elif output is not None:
            reporter.write(results, options, output)
            return None
        else:
            text = reporter.render(results, options)
    except BenchError:
        raise
    except OSError as exc:
        where = exc.filename or output
        raise ConfigError(f"reporter '{name}': cannot write {where} "
                          f"({exc.strerror or exc})") from None
    except Exception as exc:  # a reporter plugin's bug: name it, no traceback
        raise PluginError(f"reporter '{name}' failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(text, str):
        raise PluginError(f"reporter '{name}' returned {type(text).__name__}, not text")
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"--output {output}: cannot write ({exc.strerror})") from None
        return None
    return text
