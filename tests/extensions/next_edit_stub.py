"""A tiny HTTP server for the real-VS-Code test's next-edit part.

The default model is not a next-edit model, so what it predicts cannot be
scripted. For ONE file (`STUBBED_FILE`) this stub answers `POST /v1/next_edit`
itself with a fixed edit in the server's response shape: once the user has
renamed `area(w, h)` to `area(width, h)`, it proposes the matching change on
the `return w * h` line. Next edits for `FORWARDED_FILE`, and every other
request (`/v1/models`), are forwarded unchanged to the live codefill server,
and each forwarded next-edit exchange is recorded, so the test knows what the
real server answered and can check what the editor drew for it. Other files'
next edits are answered "no edit", so that the real server's next edits come
only where the test looks for them. `GET /_stub/answers` lists the records.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STUBBED_FILE = "rename.py"
FORWARDED_FILE = "real.py"
OLD_LINE = "    return w * h"


def fixed_answer(body: dict, number: int) -> dict:
    """The stub's answer: `w` -> `width` on the return line once the parameter is renamed, else no edit."""
    lines = body.get("text", "").split("\n")
    edits = []
    if "def area(width, h):" in lines and OLD_LINE in lines:
        line = lines.index(OLD_LINE)
        at = OLD_LINE.index("w")
        edits.append({"range": {"start": {"line": line, "character": at}, "end": {"line": line, "character": at + 1}},
                      "text": "width"})
    return {"id": f"nedit-stub-{number}", "object": "next_edit", "model": body.get("model", ""), "edits": edits,
            "no_edit": not edits, "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}


def useful(text: str, edits: list[dict], cursor: dict) -> list[dict]:
    """The edits that change the text, nearest the cursor first: the first is the one the editor
    clients show (they drop the rest)."""
    lines = text.split("\n")

    def offset(p: dict) -> int:
        line = min(p["line"], len(lines) - 1)
        return sum(len(x) + 1 for x in lines[:line]) + min(p["character"], len(lines[line]))

    def distance(e: dict) -> int:
        start, end = e["range"]["start"]["line"], e["range"]["end"]["line"]
        return start - cursor["line"] if cursor["line"] < start else max(0, cursor["line"] - end)

    changing = [e for e in edits if text[offset(e["range"]["start"]):offset(e["range"]["end"])] != e["text"]]
    return sorted(changing, key=distance)


def ghost_text_for(edit: dict, cursor: dict) -> bool:
    """Whether the clients offer `edit` as ghost text: on the cursor's line, one line, at or after the cursor."""
    start, end = edit["range"]["start"], edit["range"]["end"]
    return (start["line"] == end["line"] == cursor["line"] and "\n" not in edit["text"]
            and start["character"] >= cursor["character"])


def assert_drawn_as_answered(real: dict, text: str, cursor: dict) -> None:
    """`real`, what a browser test saw after the live server answered a next edit for `text` at
    `cursor` (status, answer, arrow: margin arrows drawn, drawn: new texts drawn beside the code,
    ghost: ghost text), agrees with the answer: nothing drawn for no_edit or edits that change
    nothing; else the nearest edit drawn with the arrow and its first line of new text, or, where it
    only inserts after the cursor on its line, ghost text (whose exact look is the editor's)."""
    answer = real["answer"]
    assert real["status"] == 200 and {"id", "edits", "no_edit"} <= answer.keys(), real
    edits = [] if answer["no_edit"] else useful(text, answer["edits"], cursor)
    if not edits:
        assert real["arrow"] == 0 and real["drawn"] == [], real
    elif ghost_text_for(edits[0], cursor):
        assert real["ghost"] and real["arrow"] == 0, real
    else:
        first_line = edits[0]["text"].split("\n")[0].strip()
        assert real["arrow"] > 0, real
        assert any(first_line in d for d in real["drawn"]), (first_line, real)


class NextEditStub:
    """Serves on 127.0.0.1:`port` (0: a free one) in a thread; `upstream` is the live codefill server."""

    def __init__(self, upstream: str, port: int = 0):
        self.upstream = upstream.rstrip("/")
        self.forwarded: list[dict] = []
        self.stubbed: list[dict] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> NextEditStub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def forward(self, method: str, path: str, headers: dict, data: bytes | None) -> tuple[int, bytes, str]:
        keep = {k: v for k, v in headers.items() if k.lower() in ("authorization", "content-type", "accept", "x-session-id")}
        req = urllib.request.Request(self.upstream + path, data=data, headers=keep, method=method)
        try:
            with urllib.request.urlopen(req, timeout=200) as r:
                return r.status, r.read(), r.headers.get("Content-Type", "application/json")
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers.get("Content-Type", "application/json")

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet: the test prints what matters
                pass

            def reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/_stub/answers":
                    with stub.lock:
                        return self.reply(200, json.dumps({"forwarded": stub.forwarded, "stubbed": stub.stubbed}).encode())
                self.reply(*stub.forward("GET", self.path, dict(self.headers), None))

            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != "/v1/next_edit":
                    return self.reply(*stub.forward("POST", self.path, dict(self.headers), data))
                body = json.loads(data or b"{}")
                if not str(body.get("path", "")).endswith(FORWARDED_FILE):
                    with stub.lock:
                        answer = fixed_answer(body, len(stub.stubbed) + 1)
                        stub.stubbed.append({"request": body, "answer": answer})
                    return self.reply(200, json.dumps(answer).encode())
                status, out, content_type = stub.forward("POST", self.path, dict(self.headers), data)
                try:
                    answer = json.loads(out)
                except ValueError:
                    answer = {"raw": out.decode(errors="replace")}
                with stub.lock:
                    stub.forwarded.append({"request": body, "status": status, "answer": answer})
                self.reply(status, out, content_type)

        return Handler


if __name__ == "__main__":  # by hand: python -m tests.extensions.next_edit_stub UPSTREAM [PORT]
    import sys
    import time

    with NextEditStub(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0) as s:
        print(s.url, flush=True)
        while True:
            time.sleep(3600)
