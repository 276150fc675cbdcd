"""The pytest plugin of :mod:`bench.testing` (entry point ``pytest11: artbench``).

pytest loads it in every session of an environment where artbench is installed. It only
defines fixtures: importing it imports neither TensorFlow nor the built-in plugins, and a
session that uses none of its fixtures runs exactly as without it.
"""

from __future__ import annotations
