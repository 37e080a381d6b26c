package dev.codefill.core

/**
 * The request and response of POST /v1/completions, as maps of JSON. Field
 * names and meanings: docs/CLIENTS.md and the server's server/api/protocol.py.
 */
class CompletionRequest(
    val model: String,
    val prompt: String,
    val suffix: String,
    val language: String,
    val filepath: String,
    /** The editor session: the server supersedes a session's older requests and keeps its cache. */
    val user: String,
    val maxTokens: Int = 128,
    val mode: String = "auto",
    val temperature: Double = 0.0,
    /**
     * How long the editor waits for ghost text (the `deadlineMs` setting), sent as `deadline_ms`:
     * the server drops an answer that would come later (503 `deadline_exceeded`). 0: not sent
     * (the server learns a deadline from the session's typing).
     */
    val deadlineMs: Int = CompletionApi.DEFAULT_DEADLINE_MS
) {
    fun toJson(): String {
        val body = linkedMapOf<String, Any?>(
            "model" to model,
            "prompt" to prompt,
            "suffix" to suffix,
            "max_tokens" to maxTokens,
            "temperature" to temperature,
            "stream" to false,
            "user" to user,
            "mode" to mode,
            "language" to language,
            "filepath" to filepath
        )
        if (deadlineMs > 0) body["deadline_ms"] = deadlineMs
        return Json.write(body)
    }
}

class Completion(val id: String, val text: String, val finishReason: String?)

/** The server said no (an OpenAI error object), or could not be reached (status null). */
class CodefillException(message: String, val status: Int?, val code: String?) : RuntimeException(message) {
    /**
     * No answer for this request, and nothing is wrong: a newer request of the session superseded
     * it (409 `superseded`), or it could not finish before its `deadline_ms`, when the editor no
     * longer waits (503 `deadline_exceeded`). Show nothing, log at debug level, do not ask again.
     */
    val isNoSuggestion: Boolean
        get() = (status == 409 && code == "superseded") || (status == 503 && code == "deadline_exceeded")
}

object CompletionApi {
    /** The deadlineMs of every client unless the user sets one (docs/CLIENTS.md, "The deadline"). */
    const val DEFAULT_DEADLINE_MS = 1500
    /** The largest deadline_ms the server takes; a larger one would be a 400 on every request. */
    const val MAX_DEADLINE_MS = 60000

    /** A deadlineMs setting as sent: 0 (not sent) up to the server's largest. */
    fun deadlineMs(setting: Int): Int = setting.coerceIn(0, MAX_DEADLINE_MS)

    fun parseCompletion(body: String): Completion {
        val root = Json.parse(body) as? Map<*, *> ?: throw CodefillException("the server's answer is not a JSON object", null, null)
        val choices = root["choices"] as? List<*>
        val first = choices?.firstOrNull() as? Map<*, *> ?: throw CodefillException("the server's answer has no choices", null, null)
        return Completion(root["id"] as? String ?: "", first["text"] as? String ?: "", first["finish_reason"] as? String)
    }

    fun parseError(status: Int, body: String): CodefillException {
        val error = try {
            (Json.parse(body) as? Map<*, *>)?.get("error") as? Map<*, *>
        } catch (e: Json.JsonException) {
            null // not JSON (a proxy's error page): the status says enough
        }
        val message = error?.get("message") as? String ?: "HTTP $status"
        return CodefillException(message, status, error?.get("code") as? String)
    }

    fun parseModelIds(body: String): List<String> {
        val data = (Json.parse(body) as? Map<*, *>)?.get("data") as? List<*> ?: return emptyList()
        return data.mapNotNull { (it as? Map<*, *>)?.get("id") as? String }
    }

    fun eventJson(event: String, completionId: String): String =
        Json.write(linkedMapOf("event" to event, "completion_id" to completionId))

    /** "http://host:8000/v1/" and "http://host:8000" are the same server. */
    fun normalizeBaseUrl(url: String): String = url.trim().trimEnd('/').removeSuffix("/v1")
}
