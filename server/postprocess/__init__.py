"""Post-processing: a chain of small filters over the model's text, chosen per
request from where its cursor is.

`plan(prefix, suffix, ...)` is the one way in: it reads the cursor, resolves
the mode and builds the pipeline. The filters live one per module in
`filters/`, in the order of `filters.ORDER`.
"""

from __future__ import annotations

from .cursor import Cursor, resolve_mode
from .pipeline import Pipeline, StreamFilter, run_to_end
from .planner import FILTERS, Plan, build_pipeline, disabled_filters, plan

__all__ = ["FILTERS", "Cursor", "Pipeline", "Plan", "StreamFilter", "build_pipeline", "disabled_filters",
           "plan", "resolve_mode", "run_to_end"]
