package dev.codefill.jetbrains

import com.intellij.openapi.options.BoundConfigurable
import com.intellij.openapi.ui.DialogPanel
import com.intellij.ui.dsl.builder.bindIntText
import com.intellij.ui.dsl.builder.bindItem
import com.intellij.ui.dsl.builder.bindSelected
import com.intellij.ui.dsl.builder.bindText
import com.intellij.ui.dsl.builder.columns
import com.intellij.ui.dsl.builder.COLUMNS_LARGE
import com.intellij.ui.dsl.builder.panel
import com.intellij.ui.dsl.builder.toNullableProperty

/** Settings | Tools | codefill: server URL, API key, debounce, deadline, trigger mode. */
class CodefillConfigurable : BoundConfigurable("codefill") {
    private val settings = CodefillSettings.getInstance()
    private var apiKey: String = settings.apiKey ?: ""

    override fun createPanel(): DialogPanel {
        val o = settings.state
        return panel {
            row { checkBox("Show inline completions from codefill").bindSelected(o::enabled) }
            row("Server URL:") {
                textField().bindText(o::serverUrl).columns(COLUMNS_LARGE)
                    .comment("The codefill server, e.g. http://127.0.0.1:8000 (a trailing /v1 is fine)")
            }
            row("API key:") {
                passwordField().bindText(::apiKey).columns(COLUMNS_LARGE)
                    .comment("Sent as 'Authorization: Bearer &lt;key&gt;'; kept in the IDE's password safe")
            }
            row("Model:") { textField().bindText(o::model).comment("Empty: the first model the server lists") }
            row("Debounce (ms):") { intTextField(0..5000).bindIntText(o::debounceMs) }
            row("Deadline (ms):") {
                intTextField(0..60000).bindIntText(o::deadlineMs)
                    .comment("How long to wait for gray text: the server drops a later answer. 0: let the server learn it from your typing")
            }
            row("Trigger:") {
                comboBox(listOf("automatic", "manual")).bindItem(o::triggerMode.toNullableProperty())
                    .comment("manual: only on Code | Call Inline Completion (Alt+\\)")
            }
            row("Completion mode:") {
                comboBox(listOf("auto", "single_line", "multi_line")).bindItem(o::completionMode.toNullableProperty())
            }
            row("Max tokens:") { intTextField(1..4096).bindIntText(o::maxTokens) }
        }
    }

    override fun apply() {
        super.apply()
        settings.apiKey = apiKey
        CodefillClients.reset()
    }
}
