"""The service: what the server does with an admitted request, apart from HTTP.

`admission.py` says what a kind of request gives admission (`Handler`,
`Asked`, `Call`); the completions handler, the fair queue, typed-through
memory, usage accounting and the merger of concurrent choices live beside it.
Nothing here imports FastAPI or writes a response: `server/api/` does that.
"""
