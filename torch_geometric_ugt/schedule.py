r"""Sparsity schedules: how sparse the masks are at each epoch."""
from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Union


def check_sparsity(value: Any, name: str = "sparsity") -> float:
    r"""Returns :obj:`value` as a float if it is a real number (not a
    :obj:`bool` or :obj:`str`) in :math:`[0, 1)`.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number in [0, 1); got "
                        f"{value!r} ({type(value).__name__}); pass a float "
                        f"such as 0.9.")
    value = float(value)
    if not (0.0 <= value < 1.0) or math.isnan(value):
        raise ValueError(
            f"{name} must be in [0, 1) (the fraction of weights REMOVED); "
            f"got {value}. Use e.g. 0.9 to keep 10% of the weights.")
    return value


def check_epoch(value: Any, name: str = "epoch", minimum: int = 0) -> int:
    r"""Returns :obj:`value` as an :obj:`int` if it is an integer (not a
    :obj:`bool`) of at least :obj:`minimum`.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int >= {minimum}; got {value!r} "
                        f"({type(value).__name__}).")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value}.")
    return int(value)


class SparsitySchedule:
    r"""Base class: maps an epoch :math:`t` to a sparsity :math:`s_t`."""

    def __call__(self, epoch: int) -> float:
        raise NotImplementedError

    def fingerprint(self) -> str:
        r"""A description that two schedules share exactly when they give
        the same sparsities (used to check that the ranks of a distributed
        run agree). By default: the sparsities of epochs 0 to 1023.
        """
        return repr([self(epoch) for epoch in range(1024)] +
                    [self.final_sparsity])

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

    def fingerprint(self) -> str:
        return repr(self)

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
        self.start_epoch = check_epoch(start_epoch, "start_epoch")
        self.kind = kind

    @property
    def final_sparsity(self) -> float:
        return self._final

    def fingerprint(self) -> str:
        return repr(self)

    def __call__(self, epoch: int) -> float:
        # exact for any int epoch (no float overflow far past the ramp)
        elapsed = epoch - self.start_epoch
        progress = (0.0 if elapsed <= 0 else 1.0 if
                    elapsed >= self.ramp_epochs else elapsed / self.ramp_epochs)
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
