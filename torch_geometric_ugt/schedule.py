r"""Sparsity schedules: how sparse the masks are at each epoch."""
from __future__ import annotations

import math
from typing import Callable, Union


def check_sparsity(value: float, name: str = "sparsity") -> float:
    r"""Returns :obj:`value` as a float if it lies in :math:`[0, 1)`."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number in [0, 1); got "
                        f"{value!r}.") from None
    if not (0.0 <= value < 1.0) or math.isnan(value):
        raise ValueError(
            f"{name} must be in [0, 1) (the fraction of weights REMOVED); "
            f"got {value}. Use e.g. 0.9 to keep 10% of the weights.")
    return value


class SparsitySchedule:
    r"""Base class: maps an epoch :math:`t` to a sparsity :math:`s_t`."""

    def __call__(self, epoch: int) -> float:
        raise NotImplementedError

    @property
    def final_sparsity(self) -> float:
        r"""The sparsity the schedule ends at."""
        raise NotImplementedError


class ConstantSchedule(SparsitySchedule):
    r"""The same sparsity at every epoch (Edge-Popup).

    Args:
        sparsity (float): The sparsity, in :math:`[0, 1)`.

    """

    def __init__(self, sparsity: float) -> None:
        self.sparsity = check_sparsity(sparsity)

    def __call__(self, epoch: int) -> float:
        return self.sparsity

    @property
    def final_sparsity(self) -> float:
        return self.sparsity

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.sparsity})"


class GradualSchedule(SparsitySchedule):
    r"""Sparsity that grows from :math:`s_i` to :math:`s_f` over :math:`n`
    epochs starting at :math:`t_0`, then stays (UGTs, eq. 5):

    .. math::
        s_t = s_f + (s_i - s_f)\left(1 - p_t\right)^{e}, \qquad
        p_t = \min\!\left(1, \max\!\left(0, \frac{t - t_0}{n}\right)\right)

    with :math:`e = 1` for the paper's linear schedule
    (:obj:`kind="linear"`) and :math:`e = 3` for the cubic schedule of Zhu
    and Gupta (:obj:`kind="cubic"`).

    Args:
        final_sparsity (float): :math:`s_f \in [0, 1)`.
        ramp_epochs (int): :math:`n \geq 1`.
        initial_sparsity (float): :math:`s_i \in [0, 1)`. (default:
            :obj:`0.0`)
        start_epoch (int): :math:`t_0`. (default: :obj:`0`)
        kind (str): :obj:`"linear"` or :obj:`"cubic"`. (default:
            :obj:`"linear"`)

    """

    EXPONENTS = {"linear": 1, "cubic": 3}

    def __init__(self, final_sparsity: float, ramp_epochs: int,
                 initial_sparsity: float = 0.0, start_epoch: int = 0,
                 kind: str = "linear") -> None:
        self._final = check_sparsity(final_sparsity, "final_sparsity")
        self.initial_sparsity = check_sparsity(initial_sparsity,
                                               "initial_sparsity")
        if (isinstance(ramp_epochs, bool) or not isinstance(ramp_epochs, int)
                or ramp_epochs < 1):
            raise ValueError(f"ramp_epochs must be an integer >= 1; got "
                             f"{ramp_epochs!r}. For a fixed sparsity from "
                             f"the start, set initial_sparsity equal to "
                             f"final_sparsity.")
        if kind not in self.EXPONENTS:
            raise ValueError(f"Unknown schedule {kind!r}; choose one of "
                             f"{sorted(self.EXPONENTS)} or pass a callable.")
        self.ramp_epochs = ramp_epochs
        self.start_epoch = int(start_epoch)
        self.kind = kind

    @property
    def final_sparsity(self) -> float:
        return self._final

    def __call__(self, epoch: int) -> float:
        progress = (epoch - self.start_epoch) / self.ramp_epochs
        progress = min(1.0, max(0.0, progress))
        remaining = (1.0 - progress)**self.EXPONENTS[self.kind]
        s_i, s_f = self.initial_sparsity, self._final
        return s_f + (s_i - s_f) * remaining

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.initial_sparsity} -> "
                f"{self._final}, ramp_epochs={self.ramp_epochs}, "
                f"start_epoch={self.start_epoch}, kind={self.kind!r})")


class CallableSchedule(SparsitySchedule):
    r"""Wraps a user function :obj:`epoch -> sparsity`.

    Args:
        fn (Callable[[int], float]): The schedule.
        final_sparsity (float): The sparsity models are evaluated at.

    """

    def __init__(self, fn: Callable[[int], float],
                 final_sparsity: float) -> None:
        self.fn = fn
        self._final = check_sparsity(final_sparsity, "final_sparsity")

    @property
    def final_sparsity(self) -> float:
        return self._final

    def __call__(self, epoch: int) -> float:
        return check_sparsity(self.fn(epoch), f"schedule({epoch})")

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.fn!r})"


ScheduleLike = Union[str, Callable[[int], float], SparsitySchedule]
