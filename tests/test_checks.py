import numbers

import numpy as np
import pytest
import torch

from course_utils.checks import check_array, check_choice, check_scalar, check_tensor


def test_check_array():
    assert check_array([[1, 2], [3, 4]], ndim=2).shape == (2, 2)
    with pytest.raises(ValueError, match="2-D"):
        check_array(np.zeros(3), ndim=2)
    with pytest.raises(ValueError, match="NaN"):
        check_array(np.array([1.0, np.nan]))
    with pytest.raises(TypeError, match="numeric"):
        check_array(np.array(["a", "b"]))
    with pytest.raises(TypeError):
        check_array("abc")
    with pytest.raises(ValueError, match="at least 5 rows"):
        check_array(np.zeros((3, 2)), min_rows=5)
    assert check_array(torch.ones(2, 2), ndim=2).dtype == np.float32


def test_check_tensor():
    with pytest.raises(TypeError):
        check_tensor(np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match="channels"):
        check_tensor(torch.zeros(1, 2, 4, 4), channels=3)
    with pytest.raises(ValueError, match="3-D or 4-D"):
        check_tensor(torch.zeros(4, 4), ndim=(3, 4))


def test_check_scalar_and_choice():
    assert check_scalar(3, "k", low=1, high=5) == 3
    with pytest.raises(ValueError, match=r"\(1, 5\]"):
        check_scalar(1, "k", low=1, high=5, include_low=False)
    with pytest.raises(TypeError):
        check_scalar(True, "k")
    with pytest.raises(ValueError, match="finite"):
        check_scalar(float("nan"), "k")
    with pytest.raises(ValueError, match="one of"):
        check_choice("x", "mode", ["a", "b"])


def test_every_rejection():
    with pytest.raises(TypeError, match="floating-point.*int64"):
        check_tensor(torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="NaN or inf"):
        check_tensor(torch.tensor([1.0, float("inf")]))
    assert check_tensor(torch.tensor([float("nan")]), allow_nan=True).shape == (1,)
    with pytest.raises(ValueError, match="at least 1 rows"):
        check_array(np.zeros(()), min_rows=1)
    with pytest.raises(ValueError, match="NaN or inf"):
        check_array(torch.tensor([float("inf")]))
    with pytest.raises(TypeError, match="numeric dtype"):
        check_array(np.array([1 + 2j]), dtype_kind="fiu")
    with pytest.raises(TypeError, match="k must be an integer; got 2.0"):
        check_scalar(2.0, "k", numbers.Integral)
    with pytest.raises(TypeError, match="k must be a number; got '2'"):
        check_scalar("2", "k")
    with pytest.raises(ValueError, match="finite"):
        check_scalar(float("inf"), "k")
    with pytest.raises(ValueError, match=r"\[0, 1\); got 1"):
        check_scalar(1, "k", low=0, high=1, include_high=False)
    with pytest.raises(ValueError, match=r"\[-inf, 3\]; got 4"):
        check_scalar(4, "k", high=3)
