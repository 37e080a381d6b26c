package dev.codefill.core

/**
 * POST /v1/next_edit: the request, the answer, and applying its edits to a
 * text. Positions are 0-based lines and characters counted in UTF-16 code
 * units, as the server, LSP and VS Code count them; a Kotlin String is
 * indexed in UTF-16 code units too, so a character is a String index within
 * its line. Lines end at "\n"; a "\r" before it is not part of the line.
 */
class Position(val line: Int, val character: Int) {
    override fun equals(other: Any?) = other is Position && other.line == line && other.character == character
    override fun hashCode() = line * 31 + character
    override fun toString() = "$line:$character"
}

class TextRange(val start: Position, val end: Position) {
    override fun equals(other: Any?) = other is TextRange && other.start == start && other.end == end
    override fun hashCode() = start.hashCode() * 31 + end.hashCode()
    override fun toString() = "$start-$end"
}

/** Replace [range] with [text]; start == end inserts. */
class TextEdit(val range: TextRange, val text: String) {
    override fun equals(other: Any?) = other is TextEdit && other.range == range && other.text == text
    override fun hashCode() = range.hashCode() * 31 + text.hashCode()
    override fun toString() = "$range:${Json.write(text)}"
}

/** One edit the user made: a file and a unified diff of it. */
class HistoryEvent(val path: String, val diff: String)

class RelatedFile(val path: String, val text: String)

class NextEditRequest(
    val model: String,
    val path: String,
    val text: String,
    val cursor: Position,
    /** The user's recent edits, oldest first. */
    val history: List<HistoryEvent>,
    /** The editor session: also sent as X-Session-Id. */
    val user: String,
    val language: String? = null,
    val related: List<RelatedFile> = emptyList()
) {
    fun toJson(): String {
        val body = linkedMapOf<String, Any?>(
            "model" to model,
            "path" to path,
            "text" to text,
            "cursor" to linkedMapOf("line" to cursor.line, "character" to cursor.character),
            "history" to history.map { linkedMapOf("path" to it.path, "diff" to it.diff) },
            "user" to user
        )
        if (language != null) body["language"] = language
        if (related.isNotEmpty()) body["related"] = related.map { linkedMapOf("path" to it.path, "text" to it.text) }
        return Json.write(body)
    }
}

/** The server's answer: [edits] in file order, none overlapping; none when [noEdit]. */
class NextEdit(val id: String, val model: String, val edits: List<TextEdit>, val noEdit: Boolean)

object NextEditApi {
    fun parse(body: String): NextEdit {
        val root = Json.parse(body) as? Map<*, *> ?: throw malformed("not a JSON object")
        val list = root["edits"] as? List<*> ?: throw malformed("no edits list")
        val edits = list.map { e ->
            val edit = e as? Map<*, *> ?: throw malformed("an edit is not an object")
            val range = edit["range"] as? Map<*, *> ?: throw malformed("an edit has no range")
            TextEdit(TextRange(position(range["start"]), position(range["end"])), edit["text"] as? String ?: throw malformed("an edit has no text"))
        }
        return NextEdit(root["id"] as? String ?: "", root["model"] as? String ?: "", edits, root["no_edit"] == true || edits.isEmpty())
    }

    private fun position(value: Any?): Position {
        val p = value as? Map<*, *> ?: throw malformed("a range end is not an object")
        val line = (p["line"] as? Double)?.toInt() ?: throw malformed("a position has no line")
        val character = (p["character"] as? Double)?.toInt() ?: throw malformed("a position has no character")
        return Position(line, character)
    }

    private fun malformed(what: String) = CodefillException("the server's next edit is malformed: $what", null, "malformed_response")

    /** The offset in [text] of [pos]; IllegalArgumentException when it is outside the text. */
    fun offsetOf(text: String, pos: Position): Int {
        require(pos.line >= 0) { "line ${pos.line} is negative" }
        var start = 0
        for (i in 0 until pos.line) {
            val nl = text.indexOf('\n', start)
            require(nl >= 0) { "line ${pos.line} is past the end of the text" }
            start = nl + 1
        }
        val nl = text.indexOf('\n', start)
        var end = if (nl < 0) text.length else nl
        if (end > start && text[end - 1] == '\r') end--
        require(pos.character >= 0 && start + pos.character <= end) { "character ${pos.character} is past the end of line ${pos.line}" }
        return start + pos.character
    }

    /** The position of [offset] in [text] (the inverse of [offsetOf]). */
    fun positionOf(text: String, offset: Int): Position {
        require(offset in 0..text.length) { "offset $offset is outside the text" }
        val before = text.substring(0, offset)
        val line = before.count { it == '\n' }
        return Position(line, offset - (before.lastIndexOf('\n') + 1))
    }

    /** [text] with [edits] applied; IllegalArgumentException for an edit outside the text or edits that overlap. */
    fun apply(text: String, edits: List<TextEdit>): String {
        val spans = edits.map { Triple(offsetOf(text, it.range.start), offsetOf(text, it.range.end), it.text) }.sortedBy { it.first }
        for (s in spans) require(s.first <= s.second) { "an edit ends before it starts" }
        for (i in 1 until spans.size) require(spans[i - 1].second <= spans[i].first) { "edits overlap" }
        val out = StringBuilder(text)
        for (s in spans.asReversed()) out.replace(s.first, s.second, s.third)
        return out.toString()
    }

    /** Where the caret goes after [edit] is applied: the end of its new text. */
    fun endOf(edit: TextEdit): Position {
        val lines = edit.text.split('\n')
        val character = (if (lines.size == 1) edit.range.start.character else 0) + lines.last().length
        return Position(edit.range.start.line + lines.size - 1, character)
    }
}
