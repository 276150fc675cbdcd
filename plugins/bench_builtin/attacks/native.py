"""Native TensorFlow 2 attacks (placeholder until the native engine lands)."""

from __future__ import annotations

from bench.interfaces import Attack

ATTACKS: list[type[Attack]] = []
