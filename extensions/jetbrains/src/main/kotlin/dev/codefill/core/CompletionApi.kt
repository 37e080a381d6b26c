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
    val temperature: Double = 0.0
) {
    fun toJson(): String = Json.write(linkedMapOf(
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
    ))
}

class Completion(val id: String, val text: String, val finishReason: String?)

/** The server said no (an OpenAI error object), or could not be reached (status null). */
class CodefillException(message: String, val status: Int?, val code: String?) : RuntimeException(message)

object CompletionApi {
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
