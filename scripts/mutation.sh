#!/usr/bin/env bash
# Mutation testing of the code that decides published numbers, against the fast tests only.
#
#   scripts/mutation.sh            # all mutants of the modules in scripts/mutation.cfg
#   scripts/mutation.sh 'bench.results.metrics.*'    # only some (mutmut's mutant-name globs)
#
# The default mutant names cover the functions that decide published numbers (below).
# Works in a scratch copy (MUTATION_DIR, default .mutation/, git-ignored) of the current tree,
# with plugins/bench_builtin laid out as top-level bench_builtin (mutmut names mutants after
# file paths, which must match import names). MUTATION_JOBS sets the parallel mutants
# (default 1: TensorFlow tests use both cores of a small machine). Prints the score per module;
# the counted functions are those that compute numbers (see SCORED below). Needs the dev extra
# (mutmut). Not part of the pytest run or of CI.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=${MUTATION_DIR:-$repo/.mutation}
jobs=${MUTATION_JOBS:-1}

command -v mutmut >/dev/null || { echo "mutmut not found: activate the venv with the dev extra" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work"
cd "$repo"
tar --exclude=__pycache__ -cf - bench tests pyproject.toml | tar -xf - -C "$work"
cp -r plugins/bench_builtin "$work/bench_builtin"
find "$work" -name __pycache__ -prune -exec rm -rf {} +
cp scripts/mutation.cfg "$work/setup.cfg"

cd "$work"
export TF_CPP_MIN_LOG_LEVEL=2 CUDA_VISIBLE_DEVICES=""
# default: the functions that compute numbers (the cache key, not the cache's file I/O; the
# robust-accuracy computation, not the rest of the report model)
if [ $# -eq 0 ]; then
    set -- 'bench.results.metrics.*' 'bench.checks.*' 'bench.targets.*' 'bench.grid.*' 'bench.results.stats.*' \
        'bench.cache.x_cache_key__*' 'bench.training.xǁHostTrainerǁ__init__*' \
        'bench.training.xǁHostTrainerǁtrain*' 'bench.training.xǁHostTrainerǁkey_of*' \
        'bench.training.xǁHostTrainerǁ_load*' 'bench.training.xǁHostTrainerǁ_fit*' \
        'bench_builtin.attacks.native.*'
fi
mutmut run --max-children "$jobs" "$@" >mutmut-run.log 2>&1 || {
    tail -40 mutmut-run.log
    exit 1
}

# score per module over the scored functions (mutmut 3 keeps verdicts in mutants/**/*.meta)
python - <<'PY'
import json
import re
from collections import Counter
from pathlib import Path

# per module: regex over mutmut's function part of the mutant name; None = every function
SCORED = {
    "bench.results.metrics": None,
    "bench.checks": None,
    "bench.targets": None,
    "bench.grid": None,
    "bench.results.stats": None,
    "bench_builtin.attacks.native": None,
    "bench.cache": r"^x_cache_key$",  # the key; not the file I/O
    "bench.training": r"HostTrainer.*(__init__|train|key_of|_load|_fit)$",
}
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests",
          34: "skipped", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout",
          255: "timeout", 37: "type check", None: "not checked"}
counts: dict[str, Counter] = {m: Counter() for m in SCORED}
survivors = []
for meta in sorted(Path("mutants").rglob("*.meta")):
    for key, code in json.loads(meta.read_text())["exit_code_by_key"].items():
        module, _, rest = key.rpartition(".")
        fn = rest.split("__mutmut_")[0]
        if module not in SCORED or (SCORED[module] and not re.search(SCORED[module], fn)):
            continue
        status = STATUS.get(code, "suspicious")
        counts[module][status] += 1
        if status != "killed":
            survivors.append(f"{status:10} {key}")
total = Counter()
print(f"{'module':32} killed / mutants   score")
for module, c in counts.items():
    n = sum(c.values())
    total.update(c)
    if n:
        print(f"{module:32} {c['killed']:6} / {n:<7}  {100 * c['killed'] / n:5.1f} %")
n = sum(total.values())
if n:
    print(f"{'total':32} {total['killed']:6} / {n:<7}  {100 * total['killed'] / n:5.1f} %")
print("\nnot killed (inspect with: cd .mutation && mutmut show NAME):")
print("\n".join(survivors) or "  none")
PY
