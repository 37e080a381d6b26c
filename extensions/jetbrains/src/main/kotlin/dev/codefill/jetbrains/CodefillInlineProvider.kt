@file:Suppress("UnstableApiUsage")

package dev.codefill.jetbrains

import com.intellij.codeInsight.inline.completion.InlineCompletionEvent
import com.intellij.codeInsight.inline.completion.InlineCompletionProvider
import com.intellij.codeInsight.inline.completion.InlineCompletionProviderID
import com.intellij.codeInsight.inline.completion.InlineCompletionRequest
import com.intellij.codeInsight.inline.completion.elements.InlineCompletionGrayTextElement
import com.intellij.codeInsight.inline.completion.suggestion.InlineCompletionSingleSuggestion
import com.intellij.codeInsight.inline.completion.suggestion.InlineCompletionSuggestion
import com.intellij.openapi.application.readAction
import com.intellij.openapi.diagnostic.thisLogger
import com.intellij.openapi.project.guessProjectDir
import com.intellij.openapi.vfs.VfsUtilCore
import dev.codefill.core.CodefillException
import dev.codefill.core.CodefillHttpClient
import dev.codefill.core.CompletionApi
import dev.codefill.core.CompletionRequest
import dev.codefill.core.ContextWindow
import kotlinx.coroutines.delay
import kotlinx.coroutines.future.await
import java.util.UUID

/** One HTTP client per server URL; settings changes drop it. */
object CodefillClients {
    /** One editor session per IDE run: the server keeps its cache and supersedes its older requests. */
    val sessionId: String = UUID.randomUUID().toString()

    @Volatile private var client: CodefillHttpClient? = null

    fun get(): CodefillHttpClient {
        val url = CodefillSettings.getInstance().state.serverUrl
        val current = client
        if (current != null && current.baseUrl == dev.codefill.core.CompletionApi.normalizeBaseUrl(url)) return current
        return CodefillHttpClient(url, { CodefillSettings.getInstance().apiKey }).also { client = it }
    }

    fun reset() {
        client = null
    }
}

/**
 * The platform's inline completion (2024.2+): gray text at the caret, Tab accepts.
 *
 * The platform cancels this coroutine when the user types on; the debounce is
 * a `delay` (cancelled with it), and the HTTP request is a future awaited with
 * `await()`, which cancels the future, which aborts the exchange, which makes
 * the server stop generating.
 */
class CodefillInlineProvider : InlineCompletionProvider {
    override val id: InlineCompletionProviderID = InlineCompletionProviderID("codefill")

    private val window = ContextWindow()

    override fun isEnabled(event: InlineCompletionEvent): Boolean {
        val o = CodefillSettings.getInstance().state
        if (!o.enabled) return false
        return when (event) {
            is InlineCompletionEvent.DirectCall -> true
            is InlineCompletionEvent.DocumentChange -> o.triggerMode == "automatic"
            else -> false
        }
    }

    override suspend fun getSuggestion(request: InlineCompletionRequest): InlineCompletionSuggestion {
        val o = CodefillSettings.getInstance().state
        // Typing: wait out the burst. An explicit call: the user is waiting, go now.
        if (request.event !is InlineCompletionEvent.DirectCall) delay(o.debounceMs.toLong())

        val snapshot = readAction {
            val file = request.file
            val vfile = file.virtualFile
            val root = file.project.guessProjectDir()
            Snapshot(
                text = request.document.charsSequence.toString(),
                offset = request.endOffset,
                language = file.language.id.lowercase(),
                path = if (vfile != null && root != null) VfsUtilCore.getRelativePath(vfile, root) ?: vfile.name else file.name,
            )
        }
        val ctx = window.build(snapshot.text, snapshot.offset)
        val client = CodefillClients.get()
        val text = try {
            val model = client.resolveModel(o.model.ifBlank { null }).await()
            // Superseded, or past the deadline: no gray text, only a debug line, and no retry.
            client.completeOrNull(
                CompletionRequest(model, ctx.prompt, ctx.suffix, snapshot.language, snapshot.path, CodefillClients.sessionId,
                    o.maxTokens, o.completionMode, deadlineMs = CompletionApi.deadlineMs(o.deadlineMs))
            ) { thisLogger().debug("codefill: no suggestion: ${it.message}") }.await()?.text ?: ""
        } catch (e: CodefillException) {
            thisLogger().warn("codefill: ${e.message}")
            ""
        }
        if (text.isEmpty()) return InlineCompletionSuggestion.Empty
        return InlineCompletionSingleSuggestion.build { emit(InlineCompletionGrayTextElement(text)) }
    }

    private class Snapshot(val text: String, val offset: Int, val language: String, val path: String)
}
