import httpx


def test_live_server_answers(live_server):
    r = httpx.post(live_server.base_url + "/completions",
                   json={"model": live_server.model, "prompt": "def add(a, b):\n    return", "max_tokens": 8})
    assert r.status_code == 200, r.text
    assert r.json()["object"] == "text_completion"
