from __future__ import annotations

import pytest

from bench.errors import PluginError
from bench.interfaces import Attack
from bench.registry import Registry


class Fgsm(Attack):
    name = "fgsm"


class Bim(Attack):
    name = "bim"


class OtherFgsm(Attack):
    name = "fgsm"


def test_unknown_name_suggests_and_lists_available():
    reg: Registry[Attack] = Registry("attack")
    reg.add(Fgsm, "builtin (artbench 0.1.0)")
    reg.add(Bim, "builtin (artbench 0.1.0)")
    with pytest.raises(PluginError) as exc:
        reg.get("fgms")
    assert str(exc.value) == "Unknown attack 'fgms'. Did you mean: fgsm? Available: bim, fgsm"


def test_unknown_name_without_close_match():
    reg: Registry[Attack] = Registry("attack")
    reg.add(Fgsm, "a")
    with pytest.raises(PluginError, match=r"^Unknown attack 'zzz'\. Available: fgsm$"):
        reg.get("zzz")


def test_duplicate_names_both_providers():
    reg: Registry[Attack] = Registry("attack")
    reg.add(Fgsm, "builtin (artbench 0.1.0)")
    with pytest.raises(PluginError) as exc:
        reg.add(OtherFgsm, "evil (evil-pkg 1.0)")
    assert str(exc.value) == (
        "Duplicate attack 'fgsm': provided by both builtin (artbench 0.1.0) and evil (evil-pkg 1.0)"
    )


def test_frozen_registry_rejects_additions():
    reg: Registry[Attack] = Registry("attack")
    reg.freeze()
    with pytest.raises(RuntimeError):
        reg.add(Bim, "late")
    assert "bim" not in reg and len(reg) == 0
