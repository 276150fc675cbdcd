"""cw-l0-native at its defaults breaks images whose every pixel is 0 or 1.

At 0 and 1 the tanh change of variables saturates (w = arctanh(+-0.999999) = +-7.25): Adam moves
w by about the learning rate per step, so 100 steps at lr 1e-2 cannot change such a pixel. The
first round used to restart from the clean image at every doubling of c and so never succeeded
on these images (0 % at the defaults, returned unchanged; 27.5 % of the undistilled EMNIST
model's samples). As in Carlini's l0_attack.py, a larger c now continues from where the smaller
one stopped, and the first round succeeds.
"""

from __future__ import annotations

import numpy as np
from bench_builtin.attacks.native import CwL0Native
from native_helpers import distortion, predict


def test_l0_defaults_break_binary_digits(model, data) -> None:
    x = (data.x_test[:40] > 0.5).astype(np.float32)  # every pixel saturated
    y = data.y_test[:40]
    keep = predict(model, x) == y
    x, y = x[keep][:3], y[keep][:3]
    assert len(x) == 3
    out = CwL0Native(CwL0Native.Params()).generate(model, x, y, None, (0.0, 1.0), 10)
    pred = predict(model, out.x_adv)
    assert (pred != y).all(), pred
    assert (out.success == (pred != y)).all()
    l0 = distortion(x, out.x_adv)["l0"]
    assert (l0 <= 40).all(), l0  # a few pixels, not a smeared L2 solution
    changed = np.abs(out.x_adv - x) > 0
    assert np.array_equal(out.x_adv[~changed], x[~changed])
