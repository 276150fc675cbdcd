from __future__ import annotations

import pytest

from bench.errors import ConfigError, PluginError
from bench.grid import expand_grid, with_default_defenses
from bench.interfaces import Defense, DefenseTraits, Params
from bench.pluginmanager import Plugins
from bench.registry import Registry
from bench.suite import Suite, validate_suite
from tests.helpers import FakeDistillation, make_plugins


def suite(**over):
    base = {
        "name": "g",
        "dataset": {"name": "digits"},
        "models": [{"name": "cnn"}],
        "defenses": [{"name": "none"}, {"name": "distillation",
                                        "params": {"temperature": [1, 100]}}],
        "attacks": [{"name": "fgsm", "params": {"eps": [0.1, 0.3]}},
                    {"name": "cw-l2", "samples": 20}],
        "evaluation": {"samples": 50},
    }
    base.update(over)
    return validate_suite(base, "s.yaml")


def test_sweeps_expand_into_cells_with_canonical_ids():
    cells = expand_grid(suite(), make_plugins(), "s.yaml")
    ids = [c.id for c in cells]
    assert len(cells) == 3 * 3
    assert ids[0] == "model=cnn/defense=none/attack=fgsm[eps=0.1]"
    assert "model=cnn/defense=distillation[temperature=100]/attack=cw-l2" in ids
    assert {c.samples for c in cells if c.attack.name == "cw-l2"} == {20}
    assert {c.samples for c in cells if c.attack.name == "fgsm"} == {50}


def test_list_typed_parameter_is_a_value_not_a_sweep():
    s = suite(attacks=[{"name": "fgsm", "params": {"layers": [1, 2]}}])
    cells = expand_grid(s, make_plugins(), "s.yaml")
    assert len(cells) == 3
    assert cells[0].attack.params.layers == [1, 2]


def test_distinct_entries_of_one_plugin_get_distinct_ids():
    s = suite(attacks=[{"name": "fgsm", "params": {"eps": 0.1}},
                       {"name": "fgsm", "params": {"eps": 0.1, "target": 3}}])
    ids = {c.attack.id for c in expand_grid(s, make_plugins(), "s.yaml")}
    assert ids == {"fgsm[target=none]", "fgsm[target=3]"}


def test_exclude_by_pattern():
    s = suite(exclude=[{"defense": "distillation*", "attack": "cw-l2"}])
    cells = expand_grid(s, make_plugins(), "s.yaml")
    assert len(cells) == 9 - 2
    assert not [c for c in cells if c.defense.name == "distillation" and c.attack.name == "cw-l2"]


def test_exclude_matches_bracketed_ids_literally():
    s = suite(exclude=[{"defense": "distillation[temperature=1]", "attack": "cw-*"}])
    cells = expand_grid(s, make_plugins(), "s.yaml")
    assert [c.defense.id for c in cells if c.attack.name == "cw-l2"] == [
        "none", "distillation[temperature=100]"]


def test_bad_sweep_value_names_its_index():
    s = suite(attacks=[{"name": "fgsm", "params": {"eps": [0.1, -0.1]}}])
    with pytest.raises(ConfigError) as exc:
        expand_grid(s, make_plugins(), "s.yaml")
    assert str(exc.value) == (
        "s.yaml: attacks[0].params.eps[1]: Input should be greater than or equal to 0, got -0.1")


def test_misspelt_parameter_is_rejected():
    s = suite(attacks=[{"name": "fgsm", "params": {"epsilon": 0.1}}])
    with pytest.raises(ConfigError) as exc:
        expand_grid(s, make_plugins(), "s.yaml")
    assert str(exc.value) == "s.yaml: attacks[0].params.epsilon: unknown field"


def test_unknown_plugin_in_suite():
    s = suite(attacks=[{"name": "fgms"}])
    with pytest.raises(PluginError) as exc:
        expand_grid(s, make_plugins(), "s.yaml")
    assert str(exc.value) == ("s.yaml: attacks[0].name: Unknown attack 'fgms'. Did you mean: "
                              "fgsm? Available: cw-l2, fgsm")


def test_duplicate_declaration_and_empty_grid():
    s = suite(attacks=[{"name": "cw-l2"}, {"name": "cw-l2"}])
    with pytest.raises(ConfigError, match="'cw-l2' is declared twice"):
        expand_grid(s, make_plugins(), "s.yaml")
    s = suite(exclude=[{"model": "*"}])
    with pytest.raises(ConfigError, match="exclude removes every cell"):
        expand_grid(s, make_plugins(), "s.yaml")


def test_transfer_plan_and_ids():
    from bench.grid import transfer_id, transfer_plan

    s = suite(transfer=[{"source": {"defense": "none"}, "attack": "fgsm*"}])
    cells = expand_grid(s, make_plugins(), "s.yaml")
    plan = transfer_plan(cells, s)
    assert plan == {
        f"model=cnn/defense=none/attack=fgsm[eps={e}]": [
            "model=cnn/defense=distillation[temperature=1]",
            "model=cnn/defense=distillation[temperature=100]"]
        for e in (0.1, 0.3)
    }
    assert transfer_id("model=cnn/defense=distillation[temperature=100]", "fgsm[eps=0.1]",
                       "model=cnn/defense=none") == (
        "model=cnn/defense=distillation[temperature=100]/attack=fgsm[eps=0.1]/source=cnn|none")
    s = suite(transfer=[{"source": {"defense": "none"},
                         "target": {"defense": "distillation[temperature=100]"}}])
    plan = transfer_plan(expand_grid(s, make_plugins(), "s.yaml"), s)
    assert set(map(len, plan.values())) == {1} and len(plan) == 3


def test_bool_and_string_are_not_numbers():
    for value, got in ((True, "True"), ("0.1", "'0.1'")):
        s = suite(attacks=[{"name": "fgsm", "params": {"eps": value}}])
        with pytest.raises(ConfigError) as exc:
            expand_grid(s, make_plugins(), "s.yaml")
        assert str(exc.value) == (
            f"s.yaml: attacks[0].params.eps: Input should be a valid number, got {got}")
    s = suite(attacks=[{"name": "fgsm", "params": {"norm": True}}])
    with pytest.raises(ConfigError) as exc:
        expand_grid(s, make_plugins(), "s.yaml")
    assert str(exc.value) == (
        "s.yaml: attacks[0].params.norm: Input should be one of 'inf', 2, not a boolean, got True")
    s = suite(attacks=[{"name": "fgsm", "params": {"target": "rand"}}])
    with pytest.raises(ConfigError) as exc:
        expand_grid(s, make_plugins(), "s.yaml")
    assert str(exc.value) == (
        "s.yaml: attacks[0].params.target: Input should be a valid integer or 'random', "
        "'least-likely' or 'next', got 'rand'")
    # ints stay valid for floats
    s = suite(attacks=[{"name": "fgsm", "params": {"eps": 1}}])
    assert expand_grid(s, make_plugins(), "s.yaml")[0].attack.params.eps == 1.0


def test_grid_is_counted_before_it_is_expanded():
    big = list(range(1, 211))
    s = suite(attacks=[{"name": "fgsm", "params": {"eps": big, "layers": [1], "target": big,
                                                   "norm": ["inf", 2] * 105}}])
    with pytest.raises(ConfigError) as exc:
        expand_grid(s, make_plugins(), "s.yaml")
    assert str(exc.value) == (
        "s.yaml: the grid has 27783000 cells (1 models x 3 defenses x 9261000 attacks, before "
        "exclude), more than evaluation.max_cells = 5000; narrow the sweeps or raise the limit "
        "(--set evaluation.max_cells=27783000)")
    s = suite(evaluation={"samples": 50, "max_cells": 8})
    with pytest.raises(ConfigError, match="the grid has 9 cells"):
        expand_grid(s, make_plugins(), "s.yaml")


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"exclude": [{"attack": "cw-l2"}, {"defense": "distilation*"}]},
         "s.yaml: exclude[1].defense: 'distilation*' matches no defense of the grid. Did you "
         "mean: distillation? Available: none, distillation[temperature=1], "
         "distillation[temperature=100]"),
        ({"exclude": [{"attack": "cw-l3"}]},
         "s.yaml: exclude[0].attack: 'cw-l3' matches no attack of the grid. Did you mean: "
         "cw-l2? Available: fgsm[eps=0.1], fgsm[eps=0.3], cw-l2"),
        ({"transfer": [{"source": {"defense": "nnoe"}}]},
         "s.yaml: transfer[0].source.defense: 'nnoe' matches no defense of the grid. Did you "
         "mean: none? Available: none, distillation[temperature=1], "
         "distillation[temperature=100]"),
        ({"transfer": [{"source": {"defense": "none"}, "target": {"model": "mlp"}}]},
         "s.yaml: transfer[0].target.model: 'mlp' matches no model of the grid. Available: cnn"),
        ({"transfer": [{"source": {"defense": "none"}, "attack": "bim"}]},
         "s.yaml: transfer[0].attack: 'bim' matches no attack of the grid. Available: "
         "fgsm[eps=0.1], fgsm[eps=0.3], cw-l2"),
        ({"transfer": [{"source": {"defense": "none"}, "target": {"defense": "none"}}]},
         "s.yaml: transfer[0]: matches no cell (source rows: model=cnn/defense=none; target "
         "rows: model=cnn/defense=none; attack '*')"),
    ],
)
def test_patterns_that_match_nothing(over, message):
    s = suite(**over)
    with pytest.raises(ConfigError) as exc:
        expand_grid(s, make_plugins(), "s.yaml")
    assert str(exc.value) == message


def test_transfer_cells_are_capped():
    s = suite(transfer=[{"source": {"model": "*"}}], evaluation={"samples": 50, "max_cells": 10})
    with pytest.raises(ConfigError) as exc:
        expand_grid(s, make_plugins(), "s.yaml")
    assert str(exc.value) == (
        "s.yaml: transfer: more than 10 transfer cells, the limit of evaluation.max_cells; "
        "narrow the transfer rules or raise the limit (--set evaluation.max_cells=N)")


class OtherNone(Defense):
    name = "baseline"

    def traits(self) -> DefenseTraits:
        return DefenseTraits(kind="none")


class NeedsParams(Defense):
    """Cannot be made with default parameters: never the default, and no error."""

    name = "needs"

    class Params(Params):
        strength: float

    def traits(self) -> DefenseTraits:
        return DefenseTraits(kind="none")


def with_defenses(*classes: type[Defense]) -> Plugins:
    """The test plugins with exactly these defenses registered."""
    plugins = make_plugins()
    reg: Registry[Defense] = Registry("defense")
    for cls in classes:
        reg.add(cls, "tests")
    reg.freeze()
    return Plugins(plugins.pm, {**plugins.registries, "defense": reg}, [])


def no_defenses() -> Suite:
    data = {"name": "g", "dataset": {"name": "digits"}, "models": [{"name": "cnn"}],
            "attacks": [{"name": "fgsm"}], "evaluation": {"samples": 10}}
    return validate_suite(data, "s.yaml")


def test_omitted_defenses_default_to_the_defense_of_kind_none():
    plugins = make_plugins(defense=[NeedsParams])
    cells = expand_grid(no_defenses(), plugins, "s.yaml")
    assert [c.id for c in cells] == ["model=cnn/defense=none/attack=fgsm"]
    resolved = with_default_defenses(no_defenses(), plugins, "s.yaml")
    assert resolved.model_dump(mode="json")["defenses"] == [{"name": "none", "params": {}}]
    # a third party's baseline is the default when the built-in is blocked
    [cell] = expand_grid(no_defenses(), with_defenses(FakeDistillation, OtherNone), "s.yaml")
    assert cell.defense.id == "baseline"


def test_omitted_defenses_need_exactly_one_defense_of_kind_none():
    with pytest.raises(ConfigError) as exc:
        expand_grid(no_defenses(), make_plugins(defense=[OtherNone]), "s.yaml")
    assert str(exc.value) == (
        "s.yaml: defenses: not given, so the default is the registered defense whose "
        "traits().kind is 'none', but several do (baseline, none); list the defenses in the suite")
    with pytest.raises(ConfigError) as exc:
        expand_grid(no_defenses(), with_defenses(FakeDistillation, NeedsParams), "s.yaml")
    assert str(exc.value) == (
        "s.yaml: defenses: not given, so the default is the registered defense whose "
        "traits().kind is 'none', but none does; list the defenses in the suite")


def test_built_in_none_is_the_default_and_the_plan_stores_it():
    from bench.pluginmanager import load_plugins
    from bench.run.plan import plan_suite

    plan = plan_suite(no_defenses(), "s.yaml", load_plugins([]))
    assert plan.suite.model_dump(mode="json")["defenses"] == [{"name": "none", "params": {}}]
    assert [c.id for c in plan.cells] == ["model=cnn/defense=none/attack=fgsm"]
