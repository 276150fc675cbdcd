"""One error hierarchy and the CLI's exit codes."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    CELLS_FAILED = 1  # the run finished but some cells failed
    INTERNAL_ERROR = 3  # a bug of ours: a traceback was printed
    USAGE_ERROR = 4  # bad suite, bad option, unknown plugin, bad data
    INTERRUPTED = 130  # SIGINT (Ctrl-C)
    TERMINATED = 143  # SIGTERM (128 + 15, as a shell reports it)


class BenchError(Exception):
    """A user-facing error: printed as one line, no traceback."""

    exit_code: ExitCode = ExitCode.USAGE_ERROR


class ConfigError(BenchError):
    """A suite or an override is invalid."""


class PluginError(BenchError):
    """A plugin could not be loaded, is duplicated, or is unknown."""


class PluginInitError(PluginError):
    """A plugin class's ``__init__`` raised: fails the cell or row that needed it."""


class DataError(BenchError):
    """A data file is missing, corrupt or inconsistent."""


class StoreError(BenchError):
    """The result store cannot be read or written, or a run is unknown."""


class CacheError(BenchError):
    """A cached model is corrupt or does not match its recorded checksum."""


class AttackCheckError(BenchError):
    """An attack's examples violate its contract (not finite, out of range, over eps)."""
