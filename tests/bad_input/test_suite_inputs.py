"""Bad suites and overrides: one line naming the file and the field, exit 4, nothing written."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import pytest

from tests.bad_input.harness import TINY, Case, run_case


def write(name: str, text: str | bytes):
    def setup(world: Path) -> None:
        p = world / name
        if isinstance(text, bytes):
            p.write_bytes(text)
        else:
            p.write_text(text)
    return setup


TINY_TEXT = TINY.read_text()
T = "error: {tiny}: "


def tiny_with(*sets: str) -> list[str]:
    out = ["validate", "{tiny}"]
    for s in sets:  # the harness fills {tmp} etc. with str.format
        out += ["--set", s.replace("{", "{{").replace("}", "}}")]
    return out


def billion_laughs() -> str:
    lines = ["name: &a0 lol"]
    lines += [f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "\n".join(lines) + "\ndescription: *a9\n"


def big_grid() -> str:
    sweep = "[" + ", ".join(str(i) for i in range(1, 211)) + "]"
    return TINY_TEXT.replace("params: {eps: [0.1, 0.3]}",
                             f"params: {{eps: {sweep}, eps_step: {sweep}, max_iter: {sweep}}}"
                             ).replace("name: fgsm", "name: bim")


EMNIST = ["run", "{tiny}", "--set", "dataset.name=emnist", "--set",
          "dataset.params={{variant: mnist, data_dir: {tmp}/emnist}}"]
IMAGES = "emnist/emnist-mnist-train-images-idx3-ubyte"
LABELS = "emnist/emnist-mnist-train-labels-idx1-ubyte"


def emnist_files(images: bytes, gz: bool = False):
    """Valid train labels (400) beside the given train images file."""
    def setup(world: Path) -> None:
        (world / "emnist").mkdir()
        (world / LABELS).write_bytes(struct.pack(">II", 2049, 400) + bytes(400))
        (world / (IMAGES + (".gz" if gz else ""))).write_bytes(images)
    return setup


def flipped(data: bytes, pos: int) -> bytes:
    return data[:pos] + bytes([data[pos] ^ 0xFF]) + data[pos + 1:]


GOOD_IMAGES = struct.pack(">IIII", 2051, 400, 28, 28) + bytes(400 * 28 * 28)

NO_DEFENSES = TINY_TEXT.replace("defenses:\n  - name: none\n", "")
BASELINE = """from bench import hookimpl
from bench.interfaces import Defense, DefenseTraits


class Baseline(Defense):
    name = "baseline"

    def traits(self):
        return DefenseTraits(kind="none")


@hookimpl
def bench_register_defenses():
    return [Baseline]
"""

CASES = [
    Case("negative-eps-in-sweep", ["run", "bad.yaml"],
         "error: bad.yaml: attacks[0].params.eps[1]: Input should be greater than or equal "
         "to 0, got -0.3",
         setup=write("bad.yaml", TINY_TEXT.replace("eps: [0.1, 0.3]", "eps: [0.1, -0.3]"))),
    Case("unknown-model-param", ["validate", "{tiny}", "--set", "models[0].params.epoch=3"],
         "error: {tiny}: models[0].params.epoch: unknown field"),
    Case("limit-zero", ["run", "{tiny}", "--limit", "0"], "error: --limit: must be > 0, got 0"),
    Case("missing-suite", ["run", "nope.yaml"], "error: nope.yaml: no such suite file"),
    Case("not-a-mapping", ["validate", "list.yaml"],
         "error: list.yaml: a suite must be a mapping, got list",
         setup=write("list.yaml", "- a\n")),
    # strict types: no bool or string for a number
    Case("eps-bool", tiny_with("attacks[0].params.eps=true"),
         T + "attacks[0].params.eps: Input should be a valid number, got True"),
    Case("eps-string", tiny_with('attacks[0].params.eps="0.1"'),
         T + "attacks[0].params.eps: Input should be a valid number, got '0.1'"),
    Case("norm-bool-literal", tiny_with("attacks[0].params.norm=true"),
         T + "attacks[0].params.norm: Input should be one of 'inf', 1, 2, not a boolean, got True"),
    Case("epochs-float", tiny_with("models[0].params.epochs=2.5"),
         T + "models[0].params.epochs: Input should be a valid integer, got 2.5"),
    Case("dataset-size-bool", tiny_with("dataset.params.size=true"),
         T + "dataset.params.size: Input should be a valid integer, got True"),
    Case("samples-bool", tiny_with("evaluation.samples=true"),
         T + "evaluation.samples: Input should be a valid integer, got True"),
    Case("target-misspelt", tiny_with("attacks[0].params.target=rand"),
         T + "attacks[0].params.target: Input should be a valid integer or 'random', "
         "'least-likely' or 'next', got 'rand'"),
    # a plugin's own message that quotes the value: the host does not append ", got ..." again
    Case("plugin-message-quotes-value",
         tiny_with("dataset.name=emnist", "dataset.params={url: 'ftp://x'}"),
         T + "dataset.params.url: Value error, must be an http(s) URL, got 'ftp://x'"),
    Case("attack-samples-zero", tiny_with("attacks[0].samples=0"),
         T + "attacks[0].samples: Input should be greater than 0, got 0"),
    # seeds
    Case("seed-beyond-64-bits", tiny_with("seed=18446744073709551616"),
         T + "seed: Input should be less than 4294967296, got 18446744073709551616"),
    Case("evaluation-seed-beyond-32-bits", tiny_with("evaluation.seed=4294967296"),
         T + "evaluation.seed: Input should be less than 4294967296, got 4294967296"),
    # fields, plugins, sweeps, splits
    Case("unknown-top-level-field", tiny_with("epsilon=3"), T + "epsilon: unknown field"),
    Case("unknown-attack-did-you-mean", tiny_with("attacks[0].name=fgms"),
         T + "attacks[0].name: Unknown attack 'fgms'. Did you mean: fgsm, ifgsm? Available: "
         "apgd, autoattack, bim, cw-l0-native, cw-l2, cw-l2-native, cw-linf, cw-linf-native, "
         "deepfool, fgsm, hop-skip-jump, ifgsm, pgd, pgd-native, random-noise, square"),
    Case("unknown-dataset", tiny_with("dataset.name=mnist"),
         T + "dataset.name: Unknown dataset 'mnist'. Did you mean: emnist? Available: digits, "
         "emnist"),
    Case("empty-sweep", tiny_with("attacks[0].params.eps=[]"),
         T + "attacks[0].params.eps: an empty sweep gives no cells"),
    Case("split-syntax", tiny_with("dataset.train=train[5:2x]"),
         T + "dataset.train: invalid split 'train[5:2x]': expected a form such as 'train', "
         "'test[:85%]', 'test[85%:]', 'train[:20000]', 'train[1000:2000]', 'test[-10%:]'"),
    Case("split-percent-range", tiny_with("dataset.test=test[:150%]"),
         T + "dataset.test: invalid split 'test[:150%]': percent '150%' must be within "
         "-100%..100%"),
    Case("split-unknown-name", ["run", "{tiny}", "--set", "dataset.test=valid"],
         "error: unknown split 'valid' for digits; available: train, test"),
    # omitted defenses: the one registered defense of kind 'none'
    Case("default-defense-ambiguous", ["validate", "nodef.yaml", "-p", "baseline.py"],
         "error: nodef.yaml: defenses: not given, so the default is the registered defense whose "
         "traits().kind is 'none', but several do (baseline, none); list the defenses in the "
         "suite", setup=lambda w: (write("nodef.yaml", NO_DEFENSES)(w),
                                   write("baseline.py", BASELINE)(w))),
    # short labels
    Case("label-multi-line", tiny_with('attacks[0].label="fgsm\\nsmall"'),
         T + "attacks[0].label: a label is 1 to 40 printable characters on one line, without "
         "leading or trailing spaces, got 'fgsm\\nsmall'"),
    Case("label-twice", tiny_with("defenses=[{name: none, label: base}, "
                                  "{name: distillation, label: base}]"),
         T + "defenses[1].label: 'base' labels both 'none' and 'distillation'"),
    # the convergence check: an attack with nothing to double, a parameter that counts nothing
    Case("convergence-nothing-to-double", tiny_with("attacks[0].convergence=true"),
         T + "attacks[0].convergence: fgsm declares no iteration or restart parameter to "
         "double (traits().effort_params)"),
    Case("convergence-not-effort", tiny_with(
        "attacks=[{name: pgd-native, convergence: eps}]"),
         T + "attacks[0].convergence: 'eps' is not one of pgd-native's iteration or restart "
         "parameters (steps, restarts)"),
    Case("convergence-number", tiny_with("attacks[0].convergence=2"),
         T + "attacks[0].convergence: Input should be a valid boolean or a valid string, got 2"),
    # patterns that match nothing, grid cap
    Case("exclude-matches-nothing", tiny_with("exclude=[{defense: none}, {attack: fgms}]"),
         T + "exclude[1].attack: 'fgms' matches no attack of the grid. Did you mean: fgsm? "
         "Available: fgsm[eps=0.1], fgsm[eps=0.3]"),
    Case("transfer-source-matches-nothing", tiny_with("transfer=[{source: {defense: nnoe}}]"),
         T + "transfer[0].source.defense: 'nnoe' matches no defense of the grid. Did you mean: "
         "none? Available: none"),
    Case("transfer-gives-no-cell", tiny_with("transfer=[{source: {model: cnn}}]"),
         T + "transfer[0]: matches no cell (source rows: model=cnn/defense=none; target rows: "
         "model=cnn/defense=none; attack '*')"),
    Case("grid-over-max-cells", tiny_with("evaluation.max_cells=1"),
         T + "the grid has 2 cells (1 models x 1 defenses x 2 attacks, before exclude), more than "
         "evaluation.max_cells = 1; narrow the sweeps or raise the limit "
         "(--set evaluation.max_cells=2)"),
    Case("nine-million-cells", ["validate", "big.yaml"],
         "error: big.yaml: the grid has 9261000 cells (1 models x 1 defenses x 9261000 attacks, "
         "before exclude), more than evaluation.max_cells = 5000; narrow the sweeps or raise the "
         "limit (--set evaluation.max_cells=9261000)", setup=write("big.yaml", big_grid()),
         timeout=60),
    # --set paths and values
    Case("set-malformed-path", tiny_with(".a=1"), "error: --set .a: malformed field path"),
    Case("set-unclosed-bracket", tiny_with("models[0=1"),
         "error: --set models[0: malformed field path"),
    Case("set-missing-list-entry", tiny_with("models[3].params.epochs=1"),
         "error: --set models[3].params.epochs: no entry [3] (the list has 1)"),
    Case("set-missing-named-entry", tiny_with("attacks[fgms].samples=1"),
         "error: --set attacks[fgms].samples: no entry named 'fgms' (entries: fgsm)"),
    Case("set-without-value", tiny_with("evaluation"),
         "error: --set evaluation: expected path=value"),
    Case("set-bad-yaml-value", tiny_with("evaluation.samples=[1,"),
         "error: --set evaluation.samples: line 1, column 4: invalid YAML: expected the node "
         "content, but found '<stream end>'"),
    Case("set-duplicate-key", tiny_with("evaluation={samples: 1, samples: 2}"),
         "error: --set evaluation: line 1, column 14: invalid YAML: duplicate key 'samples' "
         "(first at line 1, column 2)"),
    Case("set-recursive-alias", tiny_with("evaluation.samples=&a [*a]"),
         "error: --set evaluation.samples: line 1, column 5: invalid YAML: alias *a is used "
         "inside its own anchor"),
    Case("set-huge-value", tiny_with("description=" + "x" * 70000),
         "error: --set description: value of 70000 characters, more than 65536"),
    # the suite file itself
    Case("duplicate-key", ["validate", "dup.yaml"],
         "error: dup.yaml: line 14, column 1: invalid YAML: duplicate key 'seed' (first at "
         "line 13, column 1)", setup=write("dup.yaml", TINY_TEXT + "seed: 1\nseed: 2\n")),
    Case("billion-laughs", ["validate", "lol.yaml"],
         "error: lol.yaml: line 7, column 15: invalid YAML: more than 100000 values once aliases "
         "are expanded; refusing to expand it", setup=write("lol.yaml", billion_laughs()),
         timeout=60),
    Case("bad-yaml-syntax", ["validate", "syntax.yaml"],
         "error: syntax.yaml: line 3, column 1: invalid YAML: expected ',' or ']', but got "
         "'<stream end>'", setup=write("syntax.yaml", "name: x\nmodels: [a\n")),
    Case("unsafe-tag", ["validate", "tag.yaml"],
         "error: tag.yaml: line 1, column 7: invalid YAML: could not determine a constructor for "
         "the tag 'tag:yaml.org,2002:python/object/apply:os.system'",
         setup=write("tag.yaml", "name: !!python/object/apply:os.system [ls]\n")),
    Case("bad-date", ["validate", "date.yaml"],
         "error: date.yaml: line 1, column 14: invalid YAML: cannot read '2020-13-45' as "
         "!!timestamp: month must be in 1..12",
         setup=write("date.yaml", "description: 2020-13-45\n")),
    Case("not-utf8", ["validate", "latin1.yaml"],
         "error: latin1.yaml: not UTF-8 text: byte 0xe9 at offset 27 (line 2) cannot be decoded",
         setup=write("latin1.yaml", b"name: tiny\ndescription: caf\xe9\n")),
    Case("dev-zero-suite", ["validate", "/dev/zero"], "error: /dev/zero: not a regular file",
         timeout=30),
    Case("directory-suite", ["validate", "."], "error: .: is a directory, not a suite file"),
    Case("huge-suite", ["validate", "huge.yaml"],
         "error: huge.yaml: 2097153 bytes, more than a suite file may hold (1 MiB)",
         setup=write("huge.yaml", "#" * (2 << 20) + "\n")),
    # EMNIST data files (read before anything is stored)
    Case("emnist-missing-files",
         [*EMNIST[:-1], "dataset.params={{variant: mnist, data_dir: {tmp}/nowhere}}"],
         "error: EMNIST mnist train files not found in {tmp}/nowhere (data_dir parameter, which "
         "does not exist): expected emnist-mnist-train-images-idx3-ubyte[.gz] and "
         "emnist-mnist-train-labels-idx1-ubyte[.gz]; provide them with the dataset's data_dir "
         "parameter, the ARTBENCH_EMNIST_DIR environment variable, or download: true (fetches "
         "the official ~560 MB archive)"),
    Case("emnist-truncated-idx", EMNIST,
         "error: {tmp}/" + IMAGES + ": truncated: header declares 400x28x28 = 313600 data bytes "
         "but the file holds 313500", setup=emnist_files(GOOD_IMAGES[:-100])),
    Case("emnist-corrupt-gzip", EMNIST,
         "error: {tmp}/" + IMAGES + ".gz: corrupt or truncated gzip data (Error -3 while "
         "decompressing data: invalid code lengths set)",
         setup=emnist_files(flipped(gzip.compress(GOOD_IMAGES, mtime=0), 12), gz=True)),
    Case("emnist-gzip-declares-too-much", EMNIST,
         "error: {tmp}/" + IMAGES + ".gz: header declares 2000000x28x28 = 1568000000 data bytes, "
         "more than the 1073741824 (1 GiB) an IDX file may hold here",
         setup=emnist_files(gzip.compress(struct.pack(">IIII", 2051, 2_000_000, 28, 28)),
                            gz=True)),
    Case("emnist-gzip-trailer-disagrees", EMNIST,
         "error: {tmp}/" + IMAGES + ".gz: corrupt or truncated gzip data (the IDX header "
         "declares 313616 bytes, the gzip trailer 50313616 mod 2**32)",
         setup=emnist_files(gzip.compress(GOOD_IMAGES + bytes(50_000_000), mtime=0), gz=True)),
    Case("emnist-not-idx", EMNIST,
         "error: {tmp}/" + IMAGES + ": not an IDX image file (magic number 1347093252, "
         "expected 2051)", setup=emnist_files(b"PK\x03\x04" + bytes(100))),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_suite_input(case: Case, world: Path) -> None:
    run_case(case, world)
