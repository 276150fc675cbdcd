"""Bad plugins and a bad model cache: one line naming the file or plugin; a plugin's fault fails
only its own cell, row or hook, and a `-p` file that cannot be loaded stops before anything runs.

Runs that get as far as the grid use ``--quiet`` (no progress, no tracebacks of plugin bugs), so
their stderr is exactly the failed cells' or the warning's line.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from bench.cache import file_sha256
from tests.bad_input.harness import Case, run_case
from tests.helpers import DATA

PLUGINS = DATA / "plugins"
MISBEHAVING = str(PLUGINS / "misbehaving.py")
RUN = ["run", "{tiny}", "--quiet", "--set", "evaluation.samples=8"]


def literal(text: str) -> str:
    """An argument holding braces (YAML flow mappings): the harness formats every argument."""
    return text.replace("{", "{{").replace("}", "}}")


ONE_FGSM = ["--set", literal("attacks=[{name: fgsm, params: {eps: 0.1}}]")]
FGSM_CELL = "model=cnn/defense=none/attack=fgsm"
STORE = ("store.sqlite*",)


def write(name: str, text: str):
    def setup(world: Path) -> None:
        (world / name).write_text(text)
    return setup


def copy(name: str):
    def setup(world: Path) -> None:
        shutil.copy(PLUGINS / name, world / name)
    return setup


def attacks(*names: str) -> list[str]:
    return ["-p", MISBEHAVING, "--set",
            literal("attacks=[" + ", ".join(f"{{name: {n}}}" for n in names) + "]")]


def line_of(code: str) -> str:
    lines = Path(MISBEHAVING).read_text().splitlines()
    return f"misbehaving.py:{next(i for i, ln in enumerate(lines, 1) if ln.strip() == code)}"


def entry(world: Path) -> tuple[Path, Path]:
    """The one cache entry of the world (the tiny run's undefended cnn)."""
    [model] = sorted((world / "cache").rglob("*.keras"))
    return model, model.with_suffix(".json")


def swap_model(input_shape: tuple[int, ...], classes: int):
    """Another valid Keras model under the entry's key, the sidecar's sha256 updated."""
    def setup(world: Path) -> None:
        import keras

        model_path, meta_path = entry(world)
        other = keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(),
                                  keras.layers.Dense(classes)])
        other.save(model_path)
        meta = json.loads(meta_path.read_text())
        meta["sha256"] = file_sha256(model_path)
        meta_path.write_text(json.dumps(meta))
    return setup


def truncate_model(world: Path) -> None:
    """A cache file cut short (a crash mid-copy): its sha256 no longer matches."""
    model_path, _ = entry(world)
    model_path.write_bytes(model_path.read_bytes()[:4096])


def edit_material(world: Path) -> None:
    """The sidecar of another configuration placed beside the model (sha256 still right)."""
    _, meta_path = entry(world)
    meta = json.loads(meta_path.read_text())
    meta["material"]["seed"] = 1
    meta_path.write_text(json.dumps(meta))


#: a damaged cache entry is moved aside and its network trained again; the run goes on
CACHE_REBUILT = ("warning: {{entry}}: {reason}; moved aside to {{entry_name}}.rejected and "
                 "trained again")
CACHE = ("cache/*",)
NO_HOOKS = ("no hook implementations in it (a plugin defines functions decorated with @hookimpl "
            "from bench)")

CASES = [
    # ---- -p files that cannot be loaded: one line naming the file, nothing runs ------------
    Case("p-import-error", ["run", "{tiny}", "-p", "needs_dep.py"],
         "error: -p needs_dep.py: import failed: ModuleNotFoundError: No module named "
         "'no_such_dependency_xyz'",
         setup=write("needs_dep.py", "import no_such_dependency_xyz\n")),
    Case("p-syntax-error", ["run", "{tiny}", "-p", "typo.py"],
         "error: -p typo.py: syntax error at typo.py:4: invalid syntax",
         setup=write("typo.py", "from bench import hookimpl\n\n\ndef f(:\n    pass\n")),
    Case("p-raises-at-import", ["validate", "{tiny}", "-p", "raises.py"],
         "error: -p raises.py: import failed: RuntimeError: not today",
         setup=write("raises.py", "raise RuntimeError('not today')\n")),
    Case("p-exits-at-import", ["run", "{tiny}", "-p", "exits.py"],
         "error: -p exits.py: import failed: SystemExit: 5",
         setup=write("exits.py", "import sys\n\nsys.exit(5)\n")),
    Case("p-no-hookimpl", ["run", "{tiny}", "-p", "undecorated.py"],
         "error: -p undecorated.py: function 'bench_register_attacks' is not decorated with "
         "@hookimpl from bench, so it would never be called",
         setup=write("undecorated.py", "def bench_register_attacks():\n    return []\n")),
    Case("p-undecorated-misspelled", ["validate", "{tiny}", "-p", "forgot.py"],
         "error: -p forgot.py: function 'bench_cell_finish' (did you mean bench_cell_finished?) "
         "is not decorated with @hookimpl from bench, so it would never be called",
         setup=write("forgot.py", "from bench import hookimpl\n\n\n@hookimpl\n"
                     "def bench_run_end(run_id, status, summary):\n    pass\n\n\n"
                     "def bench_cell_finish(run_id, cell_id, status, metrics):\n    pass\n")),
    Case("p-no-functions", ["validate", "{tiny}", "-p", "helpers_only.py"],
         f"error: -p helpers_only.py: {NO_HOOKS}",
         setup=write("helpers_only.py", "def helper():\n    return []\n")),
    Case("p-empty-file", ["plugins", "-p", "empty.py"], f"error: -p empty.py: {NO_HOOKS}",
         setup=write("empty.py", "")),
    Case("p-missing-file", ["run", "{tiny}", "-p", "nothere.py"],
         "error: -p nothere.py: no such plugin file"),
    Case("p-missing-module", ["validate", "{tiny}", "-p", "no_such_module_xyz"],
         "error: -p no_such_module_xyz: cannot import module (No module named "
         "'no_such_module_xyz')"),
    Case("p-misspelled-hook", ["run", "{tiny}", "-p", "misspelled_hook.py"],
         "error: -p misspelled_hook.py: unknown hook 'bench_register_attack'. Did you mean: "
         "bench_register_attacks?", setup=copy("misspelled_hook.py")),
    Case("p-hook-argument-not-in-spec", ["run", "{tiny}", "-p", "badargs.py"],
         "error: -p badargs.py: Plugin 'artbench_local_badargs' for hook 'bench_cell_finished' "
         "hookimpl definition: bench_cell_finished(run_id, cell, status) Argument(s) {{'cell'}} "
         "are declared in the hookimpl but can not be found in the hookspec",
         setup=write("badargs.py", "from bench import hookimpl\n\n\n@hookimpl\n"
                     "def bench_cell_finished(run_id, cell, status):\n    pass\n")),
    Case("p-block-unknown-name", ["run", "{tiny}", "-p", "no:bogus"],
         "error: -p no:bogus: no plugin named 'bogus'. Can be blocked: builtin"),
    Case("p-block-misspelled-name", ["plugins", "-p", "no:bultin"],
         "error: -p no:bultin: no plugin named 'bultin'. Did you mean: builtin? Can be "
         "blocked: builtin"),
    # ---- faulty plugin code in a run: its cell fails, the run goes on, exit 1 ---------------
    Case("attack-init-raises", [*RUN, *attacks("bad-init")],
         "FAILED model=cnn/defense=none/attack=bad-init: attack 'bad-init' failed in __init__: "
         "RuntimeError: no GPU here", exit_code=1, may_change=STORE),
    Case("attack-sys-exit", [*RUN, *attacks("exit")],
         "FAILED model=cnn/defense=none/attack=exit: plugin raised SystemExit(3) at "
         f"{line_of('sys.exit(3)')}", exit_code=1, may_change=STORE),
    Case("attack-raises-keyboard-interrupt", [*RUN, *attacks("interrupt")],
         "FAILED model=cnn/defense=none/attack=interrupt: plugin raised KeyboardInterrupt() at "
         f"{line_of('raise KeyboardInterrupt')}", exit_code=1, may_change=STORE),
    Case("attack-nan-bound", [*RUN, *attacks("nan-bound")],
         "FAILED model=cnn/defense=none/attack=nan-bound: bound() returned eps=nan: eps must be "
         "a finite number >= 0", exit_code=1, may_change=STORE),
    Case("attack-writes-into-x", [*RUN, "-p", str(PLUGINS / "inplace_attack.py"),
                                  "--set", literal("attacks=[{name: inplace}]")],
         "FAILED model=cnn/defense=none/attack=inplace: ValueError: output array is read-only "
         "(inputs handed to plugins are read-only: copy an array before changing it)",
         exit_code=1, may_change=STORE),
    Case("defense-init-raises", [*RUN, *ONE_FGSM, "-p", MISBEHAVING,
                                 "--set", literal("defenses=[{name: bad-init}]")],
         "FAILED model=cnn/defense=bad-init/attack=fgsm: defense 'bad-init' failed in "
         "__init__: ValueError: defense cannot start", exit_code=1, may_change=STORE),
    Case("model-init-raises", [*RUN, *ONE_FGSM, "-p", MISBEHAVING,
                               "--set", literal("models=[{name: bad-init}]")],
         "FAILED model=bad-init/defense=none/attack=fgsm: model 'bad-init' failed in "
         "__init__: RuntimeError: model cannot start", exit_code=1, may_change=STORE),
    Case("hook-raises", [*RUN, *ONE_FGSM, "-p", MISBEHAVING],
         "warning: plugin 'artbench_local_misbehaving' failed in bench_cell_finished: "
         "RuntimeError: bench_cell_finished is broken",
         exit_code=0, may_change=STORE, env={"RAISING_HOOKS": "bench_cell_finished"}),
    Case("hook-exits", [*RUN, *ONE_FGSM, "-p", MISBEHAVING],
         "warning: plugin 'artbench_local_misbehaving' failed in bench_run_end: raised "
         f"SystemExit(2) at {line_of('sys.exit(2)')}",
         exit_code=0, may_change=STORE, env={"RAISING_HOOKS": "bench_run_end"}),
    # ---- the model cache ------------------------------------------------------------------
    Case("cache-dir-is-a-file", [*RUN, *ONE_FGSM],
         "warning: cannot write the model cache {tmp}/cachefile: Not a directory; trained "
         "models are kept in memory for this run",
         exit_code=0, may_change=STORE, env={"ARTBENCH_CACHE_DIR": "{tmp}/cachefile"},
         setup=write("cachefile", "not a directory\n")),
    Case("cache-other-input-shape", [*RUN, *ONE_FGSM],
         CACHE_REBUILT.format(reason="the cached network takes inputs of shape (8, 8, 1), its "
                              "key says (28, 28, 1)"),
         exit_code=0, may_change=STORE + CACHE, setup=swap_model((8, 8, 1), 10)),
    Case("dataset-load-raises", ["run", "{tiny}", "-p", str(PLUGINS / "faulty_io.py"),
                                 "--set", "dataset.name=broken-data"],
         "error: {tiny}: dataset 'broken-data' failed to load 'train[:300]': ValueError: "
         "cannot parse train[:300].bin"),
    Case("reporter-render-raises", ["report", "-p", str(PLUGINS / "faulty_io.py"),
                                    "-f", "broken-report"],
         "error: reporter 'broken-report' failed: KeyError: 'rows'"),
    Case("cache-other-class-count", [*RUN, *ONE_FGSM],
         CACHE_REBUILT.format(reason="the cached network outputs 47 classes, its key says 10"),
         exit_code=0, may_change=STORE + CACHE, setup=swap_model((28, 28, 1), 47)),
    Case("cache-material-not-the-key", [*RUN, *ONE_FGSM],
         CACHE_REBUILT.format(reason="the recorded material does not hash to this key (an entry "
                              "copied from elsewhere?)"),
         exit_code=0, may_change=STORE + CACHE, setup=edit_material),
    Case("cache-truncated-file", [*RUN, *ONE_FGSM],
         CACHE_REBUILT.format(reason="checksum mismatch (recorded {sha12}..., found {cut12}...)"),
         exit_code=0, may_change=STORE + CACHE, setup=truncate_model),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_plugin_input(case: Case, world: Path) -> None:
    if "{entry}" in case.message:
        model_path, meta_path = entry(world)
        message = case.message.replace("{entry}", str(model_path)).replace(
            "{entry_name}", model_path.name)
        if "{sha12}" in message:  # the recorded digest, and that of the file once cut short
            case.setup(world)
            case = dataclasses.replace(case, setup=None)
            message = message.replace(
                "{sha12}", json.loads(meta_path.read_text())["sha256"][:12]).replace(
                "{cut12}", file_sha256(model_path)[:12])
        case = dataclasses.replace(case, message=message)
    run_case(case, world)
