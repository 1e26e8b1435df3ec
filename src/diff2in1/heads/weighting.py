"""How the task losses add up: fixed weights, or Kendall et al.'s uncertainty weighting (CVPR 2018).

Uncertainty weighting learns a log-variance s_t per task and adds ``exp(-s_t) * L_t + s_t``: a task
whose loss stays large gets a smaller weight, and the ``+ s_t`` term keeps the weights from vanishing.
s_t starts at ``-log(fixed weight)``, so the first steps weigh the tasks as the fixed weights do. The
normal loss is left at its fixed weight: its angular vMF NLL already learns its own per-pixel scale (κ),
and it can be negative, for which ``exp(-s) * L + s`` has no minimum in s.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..tasks import NORMAL, TASK_SPECS

LOSS_WEIGHTINGS = ("fixed", "uncertainty")


class LossWeighting(nn.Module):
    """Weighted sum of the task losses.

    Args:
        tasks: the model's tasks.
        weights: fixed weight per task (missing ones: ``TaskSpec.loss_weight``).
        learned: True for uncertainty weighting (parameters ``log_variance.<task>``).
    """

    def __init__(self, tasks: list[str], weights: dict[str, float] | None, learned: bool) -> None:
        super().__init__()
        self.fixed = {t: float((weights or {}).get(t, TASK_SPECS[t].loss_weight)) for t in tasks}
        learned_tasks = [t for t in tasks if learned and t != NORMAL]
        self.log_variance = nn.ParameterDict(
            {t: nn.Parameter(torch.tensor(-math.log(max(self.fixed[t], 1e-8)))) for t in learned_tasks}
        )

    def current(self) -> dict[str, float]:
        """{task: the weight its loss gets now}."""
        return {t: float(torch.exp(-self.log_variance[t]).detach()) if t in self.log_variance else w
                for t, w in self.fixed.items()}

    def forward(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        """Scalar total of ``losses`` ({task: scalar loss}, some of the model's tasks)."""
        total: torch.Tensor | None = None
        for task, loss in losses.items():
            if task in self.log_variance:
                s = self.log_variance[task]
                term = torch.exp(-s) * loss + s
            else:
                term = self.fixed[task] * loss
            total = term if total is None else total + term
        if total is None:
            raise ValueError("LossWeighting: no loss to add up")
        return total
