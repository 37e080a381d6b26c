"""How one step's tokens are shared between tenants.

On a CPU a step costs about in proportion to the tokens in it, and everyone in
the step waits for all of it: the tokens one tenant adds are paid for by the
others' latency. So when several tenants have work, a step is shared by
weighted max-min fairness (water-filling the token budget), with one more
rule: **no tenant gets more tokens (per unit of weight) than the next-busiest
tenant asks for.** A typist asking for 1 token plus a 4-token draft beside a
flood gets its 5, and the flood gets 5 too, not the rest of the budget: the
typist's step costs about two of its own instead of a whole budget's worth.
Two floods split the budget evenly. A tenant alone takes the whole budget,
as before.

A tenant that had work a moment ago (`PRESENT_S`) still counts with the
demand it last had: a typist between two keystrokes keeps its claim, so its
next request does not wait behind a full-budget step of someone else.
"""

from __future__ import annotations

import math
import time

# How long a tenant's last demand still counts after its work is done.
PRESENT_S = 1.0


def shares(demand: dict[str, int], budget: int, *, weights: dict[str, float] | None = None,
           present: dict[str, int] | None = None) -> dict[str, int]:
    """Tokens each tenant with work (`demand`: tenant -> tokens it would put in the step) may put in
    this step. `present`: tenants without work now, with the demand they last had (they get nothing,
    but cap the others). Every tenant with work gets at least one token."""
    weights = weights or {}
    present = {t: d for t, d in (present or {}).items() if t not in demand}
    if len(demand) + len(present) < 2:
        return {t: min(d, budget) for t, d in demand.items()}

    def w(t: str) -> float:
        return max(weights.get(t, 1.0), 1e-6)

    # The cap: the second-largest demand per unit of weight among everyone who counts.
    per_weight = sorted((d / w(t) for t, d in {**present, **demand}.items()), reverse=True)
    cap = per_weight[1]
    # Water-filling the budget between the tenants with work.
    level, left = math.inf, float(budget)
    order = sorted(demand, key=lambda t: demand[t] / w(t))
    weight_left = sum(w(t) for t in order)
    for t in order:
        if demand[t] <= left * w(t) / weight_left:
            left -= demand[t]
            weight_left -= w(t)
        else:
            level = left / weight_left
            break
    level = min(level, cap)
    return {t: max(1, min(d, int(w(t) * level + 1e-9))) for t, d in demand.items()}


class StepShares:
    """What the step loop keeps between steps: each tenant's last demand, for `PRESENT_S`."""

    def __init__(self) -> None:
        self.recent: dict[str, tuple[float, int, float]] = {}  # tenant -> (when, demand, weight)

    def split(self, wants: list[tuple[str, int, float]], budget: int) -> dict[str, int]:
        """`wants`: (tenant, tokens, weight) of every running sequence; each tenant's tokens in this step."""
        demand: dict[str, int] = {}
        weights: dict[str, float] = {}
        for tenant, want, weight in wants:
            demand[tenant] = min(budget, demand.get(tenant, 0) + want)
            weights[tenant] = weight
        now = time.monotonic()
        for tenant, want in demand.items():
            self.recent[tenant] = (now, want, weights[tenant])
        present = {}
        for tenant, (seen, want, weight) in list(self.recent.items()):
            if tenant in demand:
                continue
            if now - seen > PRESENT_S:
                del self.recent[tenant]
            else:
                present[tenant] = want
                weights[tenant] = weight
        return shares(demand, budget, weights=weights, present=present)
