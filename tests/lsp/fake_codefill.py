"""A scripted stand-in for a codefill server, for fast tests of what the
bridge sends and how it reads answers: a real HTTP server (stdlib, in a
thread) that records every request and answers as the test says. The
end-to-end tests use the real server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict | None


Answer = Callable[[dict], "tuple[int, dict]"]


def no_edit(body: dict) -> tuple[int, dict]:
    return 200, {"id": "nedit-0", "object": "next_edit", "model": body["model"], "edits": [], "no_edit": True,
                 "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def edits(*items: tuple[tuple[int, int], tuple[int, int], str], id: str = "nedit-1") -> Answer:
    """An answer with these ((line, character), (line, character), text) edits."""
    def answer(body: dict) -> tuple[int, dict]:
        return 200, {"id": id, "object": "next_edit", "model": body["model"], "no_edit": not items,
                     "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                     "edits": [{"range": {"start": {"line": s[0], "character": s[1]},
                                          "end": {"line": e[0], "character": e[1]}}, "text": t}
                               for s, e, t in items]}
    return answer


class FakeCodefill:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.next_edit: Answer = no_edit
        self.completion_text = "done"
        # A completion's answer; None: 200 with completion_text.
        self.completion: Answer | None = None
        self.delay_s: Callable[[dict], float] = lambda body: 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                fake.seen.append(Seen(self.path, dict(self.headers), None))
                self._send(200, {"object": "list", "data": [{"id": "fake-coder", "object": "model"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.seen.append(Seen(self.path, dict(self.headers), body))
                time.sleep(fake.delay_s(body))
                if self.path == "/v1/next_edit":
                    self._send(*fake.next_edit(body))
                elif fake.completion is not None:
                    self._send(*fake.completion(body))
                else:
                    self._send(200, {"object": "text_completion", "model": body["model"],
                                     "choices": [{"index": 0, "text": fake.completion_text, "finish_reason": "stop"}]})

            def _send(self, status: int, data: dict) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                try:
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the bridge gave up on this request (a newer one cancelled it)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def bodies(self, path: str = "/v1/next_edit") -> list[dict]:
        return [s.body for s in self.seen if s.path == path]

    def requests(self, path: str = "/v1/next_edit") -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
