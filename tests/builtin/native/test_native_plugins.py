"""The plugin classes: names, parameter validation, bounds, the generate() contract."""

from __future__ import annotations

import numpy as np
import pytest
from bench_builtin.attacks.native import ATTACKS, CwL0Native, CwL2Native, CwLinfNative, IFgsm
from pydantic import ValidationError

from bench.interfaces import Attack, AttackOutput, AttackParams


def test_registered_names_and_types() -> None:
    assert [a.name for a in ATTACKS] == ["ifgsm", "pgd-native", "cw-l2-native",
                                         "cw-linf-native", "cw-l0-native"]
    for a in ATTACKS:
        assert issubclass(a, Attack) and issubclass(a.Params, AttackParams)
        assert a.version and a.description


def test_params_validated() -> None:
    with pytest.raises(ValidationError):
        IFgsm.Params(eps=-0.1)
    with pytest.raises(ValidationError):
        IFgsm.Params(epsilon=0.1)  # misspelt keys are rejected
    with pytest.raises(ValidationError):
        IFgsm.Params(loss="hinge")
    with pytest.raises(ValidationError):
        CwLinfNative.Params(decrease_factor=1.5)
    with pytest.raises(ValidationError):
        CwLinfNative.Params(initial_const=30.0)
    p = IFgsm.Params(eps=0.01, target="least-likely")
    with pytest.raises(ValidationError):
        p.eps = 0.2  # frozen


def test_ifgsm_bound_and_default_alpha(model, data) -> None:
    attack = IFgsm(IFgsm.Params(eps=0.05, iterations=5, target=3))
    assert attack.bound() == ("inf", 0.05)
    out = attack.generate(model, data.x_test[:16], data.y_test[:16], np.full(16, 3), (0.0, 1.0),
                          10)
    assert isinstance(out, AttackOutput) and out.info["alpha"] == pytest.approx(0.01)
    assert np.abs(out.x_adv - data.x_test[:16]).max() <= 0.05 + 1e-6
    from native_helpers import predict

    x, y = data.x_test[:16], data.y_test[:16]
    assert ((predict(model, out.x_adv) == 3) == out.success).all()
    # with budget enough, the targeted call moves predictions to class 3; the untargeted one
    # with the same budget goes to each sample's nearest class instead
    params = {"eps": 0.2, "iterations": 10}
    aimed = IFgsm(IFgsm.Params(**params, target=3)).generate(model, x, y, np.full(16, 3),
                                                             (0.0, 1.0), 10)
    free = IFgsm(IFgsm.Params(**params)).generate(model, x, y, None, (0.0, 1.0), 10)
    hit, to_3 = predict(model, aimed.x_adv) == 3, predict(model, free.x_adv) == 3
    print(f"targeted to 3: {hit.mean():.2f}, untargeted lands on 3: {to_3.mean():.2f}")
    assert (hit == aimed.success).all()
    assert hit.mean() >= 0.6 and hit.sum() >= to_3.sum() + 8, (hit.sum(), to_3.sum())  # 0.81


@pytest.mark.parametrize("cls,params", [
    (CwL2Native, {"iterations": 50, "binary_search_steps": 3, "initial_const": 1.0}),
    (CwLinfNative, {"iterations": 50, "initial_const": 0.1, "learning_rate": 0.05}),
    (CwL0Native, {"iterations": 50, "initial_const": 1.0, "largest_const": 64.0}),
])
def test_cw_plugins_generate_valid_examples(model, data, cls, params) -> None:
    from native_helpers import predict

    x, y = data.x_test[:8], data.y_test[:8]
    for targets in (None, (y + 1) % 10):
        out = cls(cls.Params(**params)).generate(model, x, y, targets, (0.0, 1.0), 10)
        assert out.x_adv.shape == x.shape and out.x_adv.dtype == np.float32
        assert np.isfinite(out.x_adv).all() and out.x_adv.min() >= 0 and out.x_adv.max() <= 1
        pred = predict(model, out.x_adv)
        hit = pred != y if targets is None else pred == targets
        assert (hit == out.success).all()
        assert out.success.mean() >= 0.5
