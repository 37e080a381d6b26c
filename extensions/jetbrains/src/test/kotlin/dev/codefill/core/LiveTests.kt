package dev.codefill.core

import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.time.Duration
import java.util.concurrent.ExecutionException
import java.util.concurrent.TimeUnit

/** Against a real codefill server with its real model (tests/extensions/test_jetbrains.py passes the URL). */
fun liveTests(s: Suite, url: String) {
    val client = CodefillHttpClient(url)

    s.test("live: a completion for Python code, with an id and text (deadline_ms sent)") {
        val model = client.resolveModel(null).get(10, TimeUnit.SECONDS)
        // (not a fresh function body: SmolLM2 answers that with a copy of the `def` line, which is dropped)
        val ctx = ContextWindow().build("import os\n\nfiles = os.\n", 24)
        // The longest deadline the server takes: sent, and not dropped on a busy CPU.
        val c = client.complete(CompletionRequest(model, ctx.prompt, ctx.suffix, "python", "f.py", "kotlin-live", 24, "single_line",
            deadlineMs = CompletionApi.MAX_DEADLINE_MS))
            .get(60, TimeUnit.SECONDS)
        check(c.id.startsWith("cmpl-")) { "id ${c.id}" }
        check(c.text.isNotEmpty()) { "empty completion" }
        check(c.finishReason == "stop" || c.finishReason == "length") { "finish reason ${c.finishReason}" }
    }
    s.test("live: the server's own error message and code") {
        val e = raises<ExecutionException> {
            client.complete(CompletionRequest("no-such-model", "x", "", "python", "f.py", "kotlin-live")).get(10, TimeUnit.SECONDS)
        }
        val cause = e.cause as CodefillException
        eq(404, cause.status); eq("model_not_found", cause.code)
        check(cause.message.orEmpty().contains("no-such-model")) { cause.message!! }
    }
    s.test("live: cancelling a long completion stops the server generating") {
        val model = client.resolveModel(null).get(10, TimeUnit.SECONDS)
        val before = cancelledCount(url)
        // No deadline: 3000 tokens may not fit any, and this is about cancelling, not dropping.
        val f = client.complete(CompletionRequest(model, "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,", "", "text", "n.txt", "kotlin-live", 3000, "raw",
            deadlineMs = 0))
        Thread.sleep(500)
        check(!f.isDone) { "finished before it could be cancelled" }
        f.cancel(true)
        var after = before
        for (i in 0 until 50) {
            if (after > before) break
            Thread.sleep(100)
            after = cancelledCount(url)
        }
        check(after > before) { "codefill_completions_cancelled_total stayed at $before" }
    }
    s.test("live: an event for a real completion is sent; an unknown id fails alone") {
        val model = client.resolveModel(null).get(10, TimeUnit.SECONDS)
        val c = client.complete(CompletionRequest(model, "import os\n\nfiles = os.", "\n", "python", "f.py", "kotlin-live", 16,
            deadlineMs = CompletionApi.MAX_DEADLINE_MS))
            .get(60, TimeUnit.SECONDS)
        val unknown = client.sendEvent("shown", "cmpl-never-issued").get(10, TimeUnit.SECONDS)
        check(unknown == "failed") { "unknown id: $unknown" }
        val r = client.sendEvent("shown", c.id).get(10, TimeUnit.SECONDS)
        check(r == "sent") { "real id: $r" }
    }
    liveNextEdit(s, client)
}

private fun liveNextEdit(s: Suite, client: CodefillHttpClient) {
    s.test("live: a next edit is well-formed edits that apply to the text, or no_edit") {
        val model = client.resolveModel(null).get(10, TimeUnit.SECONDS)
        // The default model rewrites a whole region: on a busy CPU that takes longer than the client's 30 s default.
        val client = CodefillHttpClient(client.baseUrl, timeout = Duration.ofSeconds(240))
        val text = "def area(width, h):\n    return w * h\n\nprint(area(2, 3))\n"
        val history = listOf(HistoryEvent("geo.py", "--- geo.py\n+++ geo.py\n@@ -1,2 +1,2 @@\n-def area(w, h):\n+def area(width, h):\n     return w * h\n"))
        val answer = client.nextEdit(NextEditRequest(model, "geo.py", text, Position(0, 14), history, "kotlin-live-ne", "python"))
            .get(250, TimeUnit.SECONDS)
        check(answer.id.isNotEmpty()) { "no id" }
        check(answer.noEdit == answer.edits.isEmpty()) { "no_edit ${answer.noEdit} with ${answer.edits.size} edits" }
        NextEditApi.apply(text, answer.edits) // throws if an edit is outside the text or they overlap
    }
    s.test("live: a cursor outside the text is the server's 400 naming the cursor") {
        val model = client.resolveModel(null).get(10, TimeUnit.SECONDS)
        val e = raises<ExecutionException> {
            client.nextEdit(NextEditRequest(model, "a.py", "x = 1\n", Position(7, 0), emptyList(), "kotlin-live-ne")).get(30, TimeUnit.SECONDS)
        }
        val cause = e.cause as CodefillException
        eq(400, cause.status); eq("cursor_out_of_range", cause.code)
    }
}

private fun cancelledCount(url: String): Double {
    val body = HttpClient.newHttpClient()
        .send(HttpRequest.newBuilder(URI.create(CompletionApi.normalizeBaseUrl(url) + "/metrics")).build(), HttpResponse.BodyHandlers.ofString())
        .body()
    val line = body.lines().firstOrNull { it.startsWith("codefill_completions_cancelled_total") } ?: return 0.0
    return line.split(" ")[1].toDouble()
}
