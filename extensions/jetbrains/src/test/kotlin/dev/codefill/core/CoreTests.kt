package dev.codefill.core

import com.sun.net.httpserver.HttpServer
import java.net.InetSocketAddress
import java.util.concurrent.CancellationException
import java.util.concurrent.CountDownLatch
import java.util.concurrent.ExecutionException
import java.util.concurrent.TimeUnit

fun unitTests(s: Suite) {
    s.test("json: writes the request with escapes and integral numbers") {
        eq("""{"a":"x\"\n\\y","n":3,"f":0.5,"b":true,"z":null,"l":[1,"2"]}""",
            Json.write(linkedMapOf("a" to "x\"\n\\y", "n" to 3, "f" to 0.5, "b" to true, "z" to null, "l" to listOf(1, "2"))))
        eq("\"\\u0001\"", Json.write("\u0001"))
    }
    s.test("json: parses what the server sends, unicode escapes included") {
        val v = Json.parse("""{"id": "cmpl-1", "choices": [{"text": "a\u00e9\n", "finish_reason": null}], "n": -1.5e2}""") as Map<*, *>
        eq("cmpl-1", v["id"])
        eq("aé\n", ((v["choices"] as List<*>)[0] as Map<*, *>)["text"])
        eq(-150.0, v["n"])
        raises<Json.JsonException> { Json.parse("{\"a\": 1} x") }
        raises<Json.JsonException> { Json.parse("{\"a\": ") }
    }
    s.test("json: round-trips any string") {
        val nasty = "tab\there \"quoted\" back\\slash \u0000 \u2028 emoji \uD83D\uDE00"
        eq(nasty, Json.parse(Json.write(nasty)))
    }
    s.test("request: carries prompt, suffix, language, file path, session and mode") {
        val body = Json.parse(CompletionRequest("m", "def f():\n    ", "\n", "python", "src/f.py", "session-1", 64, "single_line").toJson()) as Map<*, *>
        eq("m", body["model"]); eq("def f():\n    ", body["prompt"]); eq("\n", body["suffix"])
        eq("python", body["language"]); eq("src/f.py", body["filepath"]); eq("session-1", body["user"])
        eq(64.0, body["max_tokens"]); eq("single_line", body["mode"]); eq(false, body["stream"]); eq(0.0, body["temperature"])
    }
    s.test("request: deadline_ms is 1500 by default, the setting as given, left out at 0") {
        val body = { deadline: Int? ->
            val r = if (deadline == null) CompletionRequest("m", "p", "s", "python", "f.py", "u")
            else CompletionRequest("m", "p", "s", "python", "f.py", "u", deadlineMs = deadline)
            Json.parse(r.toJson()) as Map<*, *>
        }
        eq(1500.0, body(null)["deadline_ms"])
        eq(700.0, body(700)["deadline_ms"])
        check("deadline_ms" !in body(0)) { "deadline_ms sent at 0" }
        eq(60000, CompletionApi.deadlineMs(90000)); eq(0, CompletionApi.deadlineMs(-5)); eq(1500, CompletionApi.deadlineMs(1500))
    }
    s.test("response: the first choice's text, id and finish reason") {
        val c = CompletionApi.parseCompletion("""{"id":"cmpl-9","object":"text_completion","choices":[{"index":0,"text":"return 1","finish_reason":"stop"}]}""")
        eq("cmpl-9", c.id); eq("return 1", c.text); eq("stop", c.finishReason)
        raises<CodefillException> { CompletionApi.parseCompletion("""{"choices": []}""") }
    }
    s.test("errors: the OpenAI error object's message and code, or the status for a non-JSON body") {
        val e = CompletionApi.parseError(404, """{"error":{"message":"The model 'x' does not exist.","type":"not_found_error","param":"model","code":"model_not_found"}}""")
        eq("The model 'x' does not exist.", e.message); eq(404, e.status); eq("model_not_found", e.code)
        eq("HTTP 502", CompletionApi.parseError(502, "<html>bad gateway</html>").message)
    }
    s.test("errors: a 503 deadline_exceeded and a 409 superseded are no suggestion, others are errors") {
        val late = CompletionApi.parseError(503, """{"error":{"message":"could not finish before its deadline","type":"service_unavailable","param":"deadline_ms","code":"deadline_exceeded"}}""")
        eq("deadline_exceeded", late.code); eq(true, late.isNoSuggestion)
        eq(true, CompletionApi.parseError(409, """{"error":{"message":"superseded","code":"superseded"}}""").isNoSuggestion)
        eq(false, CompletionApi.parseError(503, """{"error":{"message":"The model is still loading.","code":"model_loading"}}""").isNoSuggestion)
        eq(false, CompletionApi.parseError(400, """{"error":{"message":"bad","code":"deadline_exceeded"}}""").isNoSuggestion)
    }
    s.test("models and events: ids from /v1/models, the event body") {
        eq(listOf("a", "b"), CompletionApi.parseModelIds("""{"object":"list","data":[{"id":"a"},{"id":"b"}]}"""))
        eq(mapOf("event" to "accepted", "completion_id" to "c1"), Json.parse(CompletionApi.eventJson("accepted", "c1")))
    }
    s.test("base URL: with or without /v1 and trailing slashes") {
        for (u in listOf("http://h:8000", "http://h:8000/", "http://h:8000/v1", " http://h:8000/v1/ ")) eq("http://h:8000", CompletionApi.normalizeBaseUrl(u))
    }
    s.test("context: splits the caret's line into prompt and suffix, whole lines around") {
        val ctx = ContextWindow().build("def add(a, b):\n    return a + b\n", 25)
        eq("def add(a, b):\n    return", ctx.prompt); eq(" a + b\n", ctx.suffix)
    }
    s.test("context: ~120 lines before and 40 after, the head anchored while typing") {
        val text = (0 until 1000).joinToString("\n") { "line $it" }
        val w = ContextWindow()
        val offsetOf = { line: Int -> text.indexOf("line $line\n") + 2 }
        val heads = (200 until 216).map { w.build(text, offsetOf(it)).firstLine }.toSet()
        eq(setOf(64), heads)
        val ctx = w.build(text, offsetOf(500))
        check(ctx.prompt.startsWith("line ${ctx.firstLine}\n")) { "the prompt does not start on a line boundary" }
        check(ctx.firstLine in (500 - 120 - 31)..(500 - 120)) { "first line ${ctx.firstLine}" }
        check(ctx.suffix.endsWith("\nline 540")) { "suffix ends ${ctx.suffix.takeLast(20)}" }
    }
    s.test("context: caret outside the text is clamped") {
        val ctx = ContextWindow().build("ab\ncd", 99)
        eq("ab\ncd", ctx.prompt); eq("", ctx.suffix)
    }
    s.test("http: sends JSON with the API key, parses the completion (local fake server)") {
        FakeServer { path, body, auth ->
            when (path) {
                "/v1/models" -> Pair(200, """{"data":[{"id":"fake-model"}]}""")
                "/v1/completions" -> Pair(200, """{"id":"cmpl-f","choices":[{"text":"${if (auth == "Bearer k1" && body.contains("\"model\":\"fake-model\"")) "ok" else "bad"}","finish_reason":"stop"}]}""")
                else -> Pair(404, """{"error":{"message":"No such endpoint."}}""")
            }
        }.use { server ->
            val client = CodefillHttpClient(server.url + "/v1/", { "k1" })
            val model = client.resolveModel(null).get(5, TimeUnit.SECONDS)
            eq("fake-model", model)
            eq("ok", client.complete(CompletionRequest(model, "p", "s", "python", "f.py", "u")).get(5, TimeUnit.SECONDS).text)
            eq("u", server.lastSessionHeader)
            eq("unsupported", client.sendEvent("shown", "cmpl-f").get(5, TimeUnit.SECONDS))
            eq("unsupported", client.sendEvent("accepted", "cmpl-f").get(5, TimeUnit.SECONDS))
            eq(1, server.hits("/v1/events")) // not asked again after the 404
        }
    }
    s.test("http: a 503 deadline_exceeded is no completion and no error, heard once, not asked again (local fake server)") {
        FakeServer { path, _, _ ->
            if (path == "/v1/completions") Pair(503, """{"error":{"message":"could not finish before its deadline","type":"service_unavailable","param":"deadline_ms","code":"deadline_exceeded"}}""")
            else Pair(404, """{"error":{"message":"No such endpoint."}}""")
        }.use { server ->
            val client = CodefillHttpClient(server.url)
            val heard = mutableListOf<String?>()
            eq(null, client.completeOrNull(CompletionRequest("m", "p", "", "python", "f.py", "u")) { heard.add(it.code) }.get(5, TimeUnit.SECONDS))
            eq(listOf<String?>("deadline_exceeded"), heard)
            eq(1, server.hits("/v1/completions"))
            // any other failure still fails the future
            val e = raises<ExecutionException> { CodefillHttpClient("http://127.0.0.1:9").completeOrNull(CompletionRequest("m", "p", "", "python", "f.py", "u")).get(10, TimeUnit.SECONDS) }
            eq("unreachable", (e.cause as CodefillException).code)
        }
    }
    s.test("next edit: the request carries file, cursor, history, session; language and related only when given") {
        val history = listOf(HistoryEvent("geo.py", "@@ -1 +1 @@\n-def area(w, h):\n+def area(width, h):\n"))
        val body = Json.parse(NextEditRequest("m", "geo.py", "def area(width, h):\n", Position(0, 14), history, "s-1", "python").toJson()) as Map<*, *>
        eq("m", body["model"]); eq("geo.py", body["path"]); eq("def area(width, h):\n", body["text"]); eq("s-1", body["user"]); eq("python", body["language"])
        eq(mapOf("line" to 0.0, "character" to 14.0), body["cursor"])
        eq(listOf(mapOf("path" to "geo.py", "diff" to history[0].diff)), body["history"])
        check("related" !in body) { "empty related sent" }
        val bare = Json.parse(NextEditRequest("m", "a.py", "", Position(0, 0), emptyList(), "s", related = listOf(RelatedFile("b.py", "x"))).toJson()) as Map<*, *>
        check("language" !in bare) { "null language sent" }
        eq(listOf(mapOf("path" to "b.py", "text" to "x")), bare["related"])
    }
    s.test("next edit: the answer's edits, an explicit no_edit, and a malformed answer") {
        val a = NextEditApi.parse("""{"id":"nedit-1","object":"next_edit","model":"m","edits":[{"range":{"start":{"line":1,"character":11},"end":{"line":1,"character":12}},"text":"width"}],"no_edit":false,"usage":{}}""")
        eq("nedit-1", a.id); eq(false, a.noEdit)
        eq(listOf(TextEdit(TextRange(Position(1, 11), Position(1, 12)), "width")), a.edits)
        val quiet = NextEditApi.parse("""{"id":"nedit-2","model":"m","edits":[],"no_edit":true}""")
        eq(true, quiet.noEdit); eq(0, quiet.edits.size)
        raises<CodefillException> { NextEditApi.parse("""{"id":"x","edits":[{"text":"a"}]}""") }
        raises<CodefillException> { NextEditApi.parse("""{"id":"x"}""") }
    }
    s.test("next edit: applying edits by line and UTF-16 character (surrogate pairs, CRLF), in any order") {
        val text = "def area(width, h):\n    return w * h\n"
        val edits = listOf(TextEdit(TextRange(Position(1, 11), Position(1, 12)), "width"), TextEdit(TextRange(Position(0, 0), Position(0, 0)), "# geo\n"))
        eq("# geo\ndef area(width, h):\n    return width * h\n", NextEditApi.apply(text, edits))
        // U+1F600 is two UTF-16 code units: character 3 is after it
        eq("a\uD83D\uDE00B\r\nc", NextEditApi.apply("a\uD83D\uDE00b\r\nc", listOf(TextEdit(TextRange(Position(0, 3), Position(0, 4)), "B"))))
        eq(5, NextEditApi.offsetOf("ab\r\ncd", Position(1, 1)))
        eq(Position(1, 1), NextEditApi.positionOf("ab\r\ncd", 5))
        eq(Position(2, 2), NextEditApi.endOf(TextEdit(TextRange(Position(1, 4), Position(1, 4)), "x\nyz")))
        eq(Position(1, 9), NextEditApi.endOf(TextEdit(TextRange(Position(1, 4), Position(1, 6)), "total")))
    }
    s.test("next edit: an edit outside the text or overlapping another is refused, not clamped") {
        val text = "ab\r\ncd"
        raises<IllegalArgumentException> { NextEditApi.offsetOf(text, Position(0, 3)) } // the \r is not part of the line
        raises<IllegalArgumentException> { NextEditApi.offsetOf(text, Position(2, 0)) }
        raises<IllegalArgumentException> { NextEditApi.apply(text, listOf(TextEdit(TextRange(Position(0, 0), Position(0, 2)), "x"), TextEdit(TextRange(Position(0, 1), Position(1, 0)), "y"))) }
        raises<IllegalArgumentException> { NextEditApi.apply(text, listOf(TextEdit(TextRange(Position(1, 1), Position(0, 1)), "x"))) }
    }
    s.test("next edit: over HTTP with the key and session header (local fake server)") {
        FakeServer { path, body, auth ->
            when (path) {
                "/v1/next_edit" -> if (auth == "Bearer k1" && body.contains("\"cursor\":{\"line\":0,\"character\":14}"))
                    Pair(200, """{"id":"nedit-f","model":"m","edits":[{"range":{"start":{"line":1,"character":11},"end":{"line":1,"character":12}},"text":"width"}],"no_edit":false}""")
                else Pair(400, """{"error":{"message":"bad request: $body","type":"invalid_request_error","param":null,"code":null}}""")
                else -> Pair(404, """{"error":{"message":"No such endpoint."}}""")
            }
        }.use { server ->
            val client = CodefillHttpClient(server.url, { "k1" })
            val answer = client.nextEdit(NextEditRequest("m", "geo.py", "def area(width, h):\n    return w * h\n", Position(0, 14), emptyList(), "sess-2"))
                .get(5, TimeUnit.SECONDS)
            eq("nedit-f", answer.id); eq("width", answer.edits.single().text)
            eq("sess-2", server.lastSessionHeader)
        }
    }
    s.test("http: an unreachable server is a CodefillException naming it") {
        val e = raises<ExecutionException> { CodefillHttpClient("http://127.0.0.1:9").models().get(10, TimeUnit.SECONDS) }
        val cause = e.cause as CodefillException
        eq("unreachable", cause.code)
        check(cause.message.orEmpty().contains("http://127.0.0.1:9")) { cause.message!! }
    }
    s.test("http: cancelling the future closes the connection") {
        val closed = CountDownLatch(1)
        FakeServer.hanging(closed).use { server ->
            val f = CodefillHttpClient(server.url).complete(CompletionRequest("m", "p", "", "python", "f.py", "u"))
            Thread.sleep(300)
            f.cancel(true)
            raises<CancellationException> { f.get() }
            check(closed.await(5, TimeUnit.SECONDS)) { "the server never saw the connection close" }
        }
    }
}

/** A local HTTP server on a free loopback port, from the JDK (com.sun.net.httpserver). */
class FakeServer private constructor(private val server: HttpServer) : java.io.Closeable {
    private val counts = java.util.concurrent.ConcurrentHashMap<String, Int>()
    val url get() = "http://127.0.0.1:${server.address.port}"
    fun hits(path: String) = counts[path] ?: 0
    @Volatile var lastSessionHeader: String? = null

    constructor(handler: (String, String, String?) -> Pair<Int, String>) : this(HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0)) {
        server.createContext("/") { ex ->
            val path = ex.requestURI.path
            counts.merge(path, 1) { a, b -> a + b }
            ex.requestHeaders.getFirst("X-Session-Id")?.let { lastSessionHeader = it }
            val (status, body) = handler(path, ex.requestBody.readBytes().toString(Charsets.UTF_8), ex.requestHeaders.getFirst("Authorization"))
            val bytes = body.toByteArray()
            ex.sendResponseHeaders(status, bytes.size.toLong())
            ex.responseBody.use { it.write(bytes) }
        }
        server.start()
    }

    override fun close() = server.stop(0)

    companion object {
        /** Answers with headers, then trickles the body until the client goes away. */
        fun hanging(closed: CountDownLatch): FakeServer {
            val server = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0)
            server.executor = java.util.concurrent.Executors.newCachedThreadPool()
            server.createContext("/") { ex ->
                ex.requestBody.readBytes()
                ex.sendResponseHeaders(200, 0)
                try {
                    for (i in 0 until 200) {
                        ex.responseBody.write(" ".toByteArray())
                        ex.responseBody.flush()
                        Thread.sleep(50)
                    }
                } catch (e: java.io.IOException) {
                    closed.countDown() // the client closed the connection
                }
            }
            server.start()
            return FakeServer(server)
        }
    }
}
