package dev.codefill.jetbrains

import com.intellij.credentialStore.CredentialAttributes
import com.intellij.credentialStore.generateServiceName
import com.intellij.ide.passwordSafe.PasswordSafe
import com.intellij.openapi.application.ApplicationManager
import com.intellij.openapi.components.PersistentStateComponent
import com.intellij.openapi.components.Service
import com.intellij.openapi.components.State
import com.intellij.openapi.components.Storage
import dev.codefill.core.CompletionApi

/**
 * The plugin's settings (Settings | Tools | codefill). The API key is not
 * stored here but in the IDE's PasswordSafe (the OS keychain where there is one).
 */
@Service(Service.Level.APP)
@State(name = "CodefillSettings", storages = [Storage("codefill.xml")])
class CodefillSettings : PersistentStateComponent<CodefillSettings.Options> {

    class Options {
        var enabled: Boolean = true
        var serverUrl: String = "http://127.0.0.1:8000"
        var model: String = ""
        var debounceMs: Int = 150
        /**
         * How long the editor waits for gray text (ms), sent as deadline_ms: the server drops an
         * answer later than this (no suggestion, no error). 0: not sent, the server learns one.
         */
        var deadlineMs: Int = CompletionApi.DEFAULT_DEADLINE_MS
        /** "automatic": while typing; "manual": only on the IDE's "Call Inline Completion" action. */
        var triggerMode: String = "automatic"
        var completionMode: String = "auto"
        var maxTokens: Int = 128
    }

    private var options = Options()

    override fun getState(): Options = options

    override fun loadState(state: Options) {
        options = state
    }

    var apiKey: String?
        get() = PasswordSafe.instance.getPassword(credentials)
        set(value) = PasswordSafe.instance.setPassword(credentials, value?.trim()?.ifEmpty { null })

    companion object {
        private val credentials = CredentialAttributes(generateServiceName("codefill", "apiKey"))

        fun getInstance(): CodefillSettings = ApplicationManager.getApplication().getService(CodefillSettings::class.java)
    }
}
