"""Grid details that decide which cells exist and what they are called: list-typed parameters
behind Optional / Annotated, id labels, error paths per section, components, transfer rules."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import Field

from bench.errors import ConfigError, PluginError
from bench.grid import expand_grid, transfer_plan
from bench.interfaces import Attack, AttackParams
from bench.suite import validate_suite
from tests.helpers import FakeFgsm, make_plugins


class ListParams(AttackParams):
    maybe: list[int] | None = None
    annotated: Annotated[list[int], Field(min_length=0)] = Field(default_factory=list)
    scale: float = 1.0
    mode: str | None = "a"
    pair: tuple[int, int] = (0, 0)


class Lists(Attack):
    name = "lists"
    Params = ListParams


def suite(**over):
    base = {"name": "g", "dataset": {"name": "digits"}, "models": [{"name": "cnn"}],
            "defenses": [{"name": "none"}], "attacks": [{"name": "fgsm"}],
            "evaluation": {"samples": 10}}
    base.update(over)
    return validate_suite(base, "s.yaml")


def expand(**over):
    return expand_grid(suite(**over), make_plugins(attack=[Lists]), "s.yaml")


def test_optional_and_annotated_lists_are_values_not_sweeps():
    [c] = expand(attacks=[{"name": "lists", "params": {"maybe": [1, 2], "annotated": [3, 4]}}])
    assert (c.attack.params.maybe, c.attack.params.annotated) == ([1, 2], [3, 4])
    cells = expand(attacks=[{"name": "lists", "params": {"mode": ["a", None]}}])
    assert [c.attack.id for c in cells] == ["lists[mode=a]", "lists[mode=none]"]


def test_id_labels_join_every_varying_parameter():
    cells = expand(attacks=[{"name": "lists", "params": {"scale": [1.0, 2.5], "mode": ["a", "b"]}}])
    assert [c.attack.id for c in cells] == [
        "lists[scale=1,mode=a]", "lists[scale=1,mode=b]",
        "lists[scale=2.5,mode=a]", "lists[scale=2.5,mode=b]"]


def test_components_carry_kind_class_and_resolved_params():
    [c] = expand(attacks=[{"name": "fgsm", "params": {"eps": 0.2}}])
    assert (c.model.kind, c.defense.kind, c.attack.kind) == ("model", "defense", "attack")
    assert c.attack.cls is FakeFgsm and c.attack.name == "fgsm"
    assert c.attack.resolved_params() == {"eps": 0.2, "norm": "inf", "layers": [],
                                          "target": None}
    attack = c.attack.instantiate()
    assert isinstance(attack, FakeFgsm) and attack.params is c.attack.params


def test_empty_sweep_names_its_field():
    with pytest.raises(ConfigError) as exc:
        expand(attacks=[{"name": "fgsm", "params": {"eps": []}}])
    assert str(exc.value) == "s.yaml: attacks[0].params.eps: an empty sweep gives no cells"


@pytest.mark.parametrize(("section", "kind"), [("models", "model"), ("defenses", "defense")])
def test_errors_name_their_section(section, kind):
    with pytest.raises(PluginError) as exc:
        expand(**{section: [{"name": "nope"}]})
    assert str(exc.value).startswith(f"s.yaml: {section}[0].name: Unknown {kind} 'nope'.")
    with pytest.raises(ConfigError) as exc:
        expand(**{section: [{"name": "cnn" if kind == "model" else "distillation",
                             "params": {"bogus": 1}}]})
    assert str(exc.value) == f"s.yaml: {section}[0].params.bogus: unknown field"


def test_question_mark_matches_one_character():
    cells = expand(attacks=[{"name": "fgsm"}, {"name": "cw-l2"}], exclude=[{"attack": "fgs?"}])
    assert [c.attack.id for c in cells] == ["cw-l2"]


def test_every_transfer_rule_is_tried_and_rows_match_model_and_defense():
    s = suite(defenses=[{"name": "none"}, {"name": "distillation"}],
              attacks=[{"name": "fgsm"}, {"name": "cw-l2"}],
              transfer=[{"source": {"defense": "none"}, "attack": "cw-*"},
                        {"source": {"model": "cnn", "defense": "none"},
                         "target": {"model": "c?n"}, "attack": "fgsm"}])
    cells = expand_grid(s, make_plugins(), "s.yaml")
    assert transfer_plan(cells, s) == {
        "model=cnn/defense=none/attack=fgsm": ["model=cnn/defense=distillation"],
        "model=cnn/defense=none/attack=cw-l2": ["model=cnn/defense=distillation"]}


def test_ids_and_resolved_params_use_the_json_form():
    """A tuple parameter: its JSON form (a list) names the cell and is what results record."""
    cells = expand(attacks=[{"name": "lists", "params": {"pair": [1, 2]}},
                            {"name": "lists", "params": {"pair": [3, 4]}}])
    assert [c.attack.id for c in cells] == ["lists[pair=[1, 2]]", "lists[pair=[3, 4]]"]
    assert cells[0].attack.resolved_params()["pair"] == [1, 2]


class NestedParams(AttackParams):
    sizes: list[int] = Field(default_factory=lambda: [1])
    grid: list[list[int]] = Field(default_factory=list)


class Nested(Attack):
    name = "nested"
    Params = NestedParams


def nested(params):
    return expand_grid(suite(attacks=[{"name": "nested", "params": params}]),
                       make_plugins(attack=[Nested, Lists]), "s.yaml")


def test_a_list_of_lists_sweeps_a_list_typed_parameter():
    [c] = nested({"sizes": [1, 2]})  # a list is the value of a list-typed parameter
    assert c.attack.params.sizes == [1, 2] and c.attack.id == "nested"
    [c] = nested({"sizes": []})  # an empty list too
    assert c.attack.params.sizes == []
    cells = nested({"sizes": [[1, 2], [3], []]})  # one level deeper: a sweep of lists
    assert [c.attack.params.sizes for c in cells] == [[1, 2], [3], []]
    assert [c.attack.id for c in cells] == [
        "nested[sizes=[1, 2]]", "nested[sizes=[3]]", "nested[sizes=[]]"]
    [c] = nested({"grid": [[1, 2], [3]]})  # list[list[int]]: a list of lists is one value
    assert c.attack.params.grid == [[1, 2], [3]]
    cells = nested({"grid": [[[1]], [[2], [3]]]})
    assert [c.attack.params.grid for c in cells] == [[[1]], [[2], [3]]]


def test_a_list_of_lists_sweeps_a_tuple_parameter():
    cells = expand(attacks=[{"name": "lists", "params": {"pair": [[0, 1], [2, 3]]}}])
    assert [c.attack.params.pair for c in cells] == [(0, 1), (2, 3)]


def test_sweep_of_lists_errors_name_the_item():
    with pytest.raises(ConfigError) as exc:
        nested({"sizes": [[1, 2], ["x"]]})
    assert str(exc.value) == ("s.yaml: attacks[0].params.sizes[1][0]: Input should be a valid "
                              "integer, got 'x'")
    with pytest.raises(ConfigError) as exc:  # items not all lists: one (bad) value, not a sweep
        nested({"sizes": [[1], 2]})
    assert str(exc.value) == ("s.yaml: attacks[0].params.sizes[0]: Input should be a valid "
                              "integer, got [1]")
