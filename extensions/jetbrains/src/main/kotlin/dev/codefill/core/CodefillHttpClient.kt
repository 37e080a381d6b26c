package dev.codefill.core

import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.time.Duration
import java.util.concurrent.CancellationException
import java.util.concurrent.CompletableFuture
import java.util.concurrent.CompletionException

/**
 * HTTP to the codefill server with the JDK's own client. Every call returns a
 * CompletableFuture; cancelling it aborts the exchange (JDK 16+), which closes
 * the connection, which makes the server stop generating. The plugin awaits
 * these futures from coroutines, so a cancelled coroutine cancels the request.
 */
class CodefillHttpClient(
    baseUrl: String,
    private val apiKey: () -> String? = { null },
    private val timeout: Duration = Duration.ofSeconds(30)
) {
    val baseUrl: String = CompletionApi.normalizeBaseUrl(baseUrl)
    private val http: HttpClient = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()
    @Volatile private var model: String? = null
    /** Set after a 404 from /v1/events: an older server, not asked again. */
    @Volatile var eventsUnsupported = false
        private set

    private fun request(path: String): HttpRequest.Builder {
        val b = HttpRequest.newBuilder(URI.create(baseUrl + path)).timeout(timeout).header("Accept", "application/json")
        val key = apiKey()
        if (!key.isNullOrBlank()) b.header("Authorization", "Bearer $key")
        return b
    }

    /**
     * Sends [req] and parses a 2xx body with [parse]. Cancelling the returned
     * future cancels the HTTP exchange. It is a plain CompletableFuture, not a
     * stage of the JDK's: those cancel the exchange first and may then complete
     * with an error instead of "cancelled".
     */
    private fun <T> exchange(req: HttpRequest, parse: (String) -> T): CompletableFuture<T> {
        val result = CompletableFuture<T>()
        val exchange = http.sendAsync(req, HttpResponse.BodyHandlers.ofString())
        exchange.whenComplete { resp, err ->
            try {
                when {
                    err != null -> {
                        val cause = if (err is CompletionException && err.cause != null) err.cause!! else err
                        if (cause is CancellationException) result.cancel(false)
                        else result.completeExceptionally(CodefillException(
                            "cannot reach $baseUrl: ${cause.javaClass.simpleName} ${cause.message ?: ""}".trim(), null, "unreachable"))
                    }
                    resp.statusCode() !in 200..299 -> result.completeExceptionally(CompletionApi.parseError(resp.statusCode(), resp.body()))
                    else -> result.complete(parse(resp.body()))
                }
            } catch (e: Exception) {
                result.completeExceptionally(e) // a body that does not parse
            }
        }
        result.whenComplete { _, _ -> if (result.isCancelled) exchange.cancel(true) }
        return result
    }

    fun models(): CompletableFuture<List<String>> =
        exchange(request("/v1/models").GET().build()) { body ->
            val ids = CompletionApi.parseModelIds(body)
            if (model == null && ids.isNotEmpty()) model = ids[0]
            ids
        }

    /** The configured model, else the server's first (asked once). */
    fun resolveModel(configured: String?): CompletableFuture<String> {
        if (!configured.isNullOrBlank()) return CompletableFuture.completedFuture(configured)
        val known = model
        if (known != null) return CompletableFuture.completedFuture(known)
        return models().thenApply { ids -> ids.firstOrNull() ?: throw CodefillException("the server lists no models", null, "no_models") }
    }

    /** Cancelling the returned future aborts the request. Resolve the model first with [resolveModel]. */
    fun complete(request: CompletionRequest): CompletableFuture<Completion> =
        exchange(post("/v1/completions", request.toJson(), request.user)) { CompletionApi.parseCompletion(it) }

    /**
     * [complete] for ghost text: a completion, or null when the server has no answer and nothing is
     * wrong ([CodefillException.isNoSuggestion]: superseded, or past the request's deadline), which
     * [quiet] hears (to log at debug level). Any other failure fails the future as [complete] does.
     */
    fun completeOrNull(request: CompletionRequest, quiet: (CodefillException) -> Unit = {}): CompletableFuture<Completion?> {
        val result = CompletableFuture<Completion?>()
        val call = complete(request)
        call.whenComplete { completion, err ->
            val cause = if (err is CompletionException && err.cause != null) err.cause!! else err
            when {
                cause == null -> result.complete(completion)
                cause is CodefillException && cause.isNoSuggestion -> { quiet(cause); result.complete(null) }
                cause is CancellationException -> result.cancel(false)
                else -> result.completeExceptionally(cause)
            }
        }
        result.whenComplete { _, _ -> if (result.isCancelled) call.cancel(true) }
        return result
    }

    /** A JSON POST in [session]; the session goes as a header too: what a load balancer in front of several servers hashes on. */
    private fun post(path: String, json: String, session: String): HttpRequest =
        request(path).header("Content-Type", "application/json").header("X-Session-Id", session)
            .POST(HttpRequest.BodyPublishers.ofString(json)).build()

    /**
     * The edits the server predicts next (POST /v1/next_edit). Cancelling the returned future aborts
     * the request. A server without the endpoint fails it with a CodefillException of status 404.
     */
    fun nextEdit(request: NextEditRequest): CompletableFuture<NextEdit> =
        exchange(post("/v1/next_edit", request.toJson(), request.user)) { NextEditApi.parse(it) }

    /** Report what became of a completion; never fails the caller. "sent", "unsupported" or "failed". */
    fun sendEvent(event: String, completionId: String): CompletableFuture<String> {
        if (eventsUnsupported) return CompletableFuture.completedFuture("unsupported")
        val req = request("/v1/events").header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(CompletionApi.eventJson(event, completionId))).build()
        return http.sendAsync(req, HttpResponse.BodyHandlers.ofString()).handle { resp, err ->
            when {
                err != null -> "failed"
                // A 404 naming the completion (a restarted server) fails this event only; any other
                // 404/405 means an older server without the endpoint.
                resp.statusCode() == 404 && resp.body().contains("completion_not_found") -> "failed"
                resp.statusCode() == 404 || resp.statusCode() == 405 -> { eventsUnsupported = true; "unsupported" }
                resp.statusCode() in 200..299 -> "sent"
                else -> "failed"
            }
        }
    }
}
