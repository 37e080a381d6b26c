package dev.codefill.core

/**
 * The text around the cursor that a request carries: whole lines, about
 * [linesBefore] above and [linesAfter] below the cursor. The first line is
 * rounded down to a multiple of [anchorLines] so the prompt's head stays the
 * same while the user types, and the server's KV cache stays warm (the same
 * rule as the VS Code and Monaco clients, extensions/common/src/context.ts).
 */
class ContextWindow(val linesBefore: Int = 120, val linesAfter: Int = 40, val anchorLines: Int = 32) {

    class Context(val prompt: String, val suffix: String, val firstLine: Int, val lastLine: Int)

    fun windowStart(cursorLine: Int): Int {
        val wanted = Math.max(0, cursorLine - linesBefore)
        val anchor = Math.max(1, anchorLines)
        return wanted / anchor * anchor
    }

    /** [text] is the whole document, [offset] the caret's character offset in it (as IntelliJ's Document gives them). */
    fun build(text: String, offset: Int): Context {
        val caret = Math.min(Math.max(offset, 0), text.length)
        val lineStarts = ArrayList<Int>()
        lineStarts.add(0)
        for (i in text.indices) if (text[i] == '\n') lineStarts.add(i + 1)
        val line = lineOf(lineStarts, caret)
        val first = windowStart(line)
        val last = Math.min(lineStarts.size - 1, line + linesAfter)
        val start = lineStarts[first]
        // The end of the last line, without its line break.
        val end = if (last + 1 < lineStarts.size) lineStarts[last + 1] - 1 else text.length
        return Context(text.substring(start, caret), text.substring(caret, Math.max(caret, end)), first, last)
    }

    private fun lineOf(lineStarts: List<Int>, offset: Int): Int {
        var lo = 0
        var hi = lineStarts.size - 1
        while (lo < hi) {
            val mid = (lo + hi + 1) / 2
            if (lineStarts[mid] <= offset) lo = mid else hi = mid - 1
        }
        return lo
    }
}
