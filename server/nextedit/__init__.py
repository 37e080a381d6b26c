"""Next-edit suggestions: the edits the user will make next, predicted from
the file, the cursor and the recent edits (`POST /v1/next_edit`).

- protocol.py: the request and answer shapes.
- history.py: the edit history's unified diffs, parsed and checked.
- formats/: the prompt formats of the open next-edit models (Zeta, Zeta 2,
  Sweep, Instinct) and which one a model gets.
- edits.py: the model's rewrite of the editable region as minimal edits.
- service.py: the handler admission runs (server/service/admission.py).

The route is server/api/next_edit.py; docs/NEXT_EDIT.md says how to use it.
"""
