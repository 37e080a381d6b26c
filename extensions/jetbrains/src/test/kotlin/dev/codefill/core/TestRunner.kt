package dev.codefill.core

/**
 * A test runner small enough to need only the Kotlin compiler and the JDK
 * (no Gradle, no JUnit here): tests are named lambdas; the last line is
 * "N passed, N failed" and the exit code is non-zero on any failure.
 *
 *   java -jar core-tests.jar            the unit tests
 *   java -jar core-tests.jar --live URL  also the tests against a live codefill server
 */
class Suite {
    val tests = ArrayList<Pair<String, () -> Unit>>()
    fun test(name: String, body: () -> Unit) {
        tests.add(Pair(name, body))
    }
}

class AssertionFailed(message: String) : RuntimeException(message)

fun check(condition: Boolean, message: () -> String) {
    if (!condition) throw AssertionFailed(message())
}

fun <T> eq(expected: T, actual: T) = check(expected == actual) { "expected <$expected> but was <$actual>" }

inline fun <reified E : Throwable> raises(body: () -> Unit): E {
    try {
        body()
    } catch (e: Throwable) {
        if (e is E) return e
        throw AssertionFailed("expected ${E::class.java.simpleName} but got $e")
    }
    throw AssertionFailed("expected ${E::class.java.simpleName}, nothing was thrown")
}

fun main(args: Array<String>) {
    val suite = Suite()
    unitTests(suite)
    val live = args.indexOf("--live")
    if (live >= 0) liveTests(suite, args[live + 1])
    var passed = 0
    var failed = 0
    for ((name, body) in suite.tests) {
        try {
            body()
            passed++
            println("PASS $name")
        } catch (e: Throwable) {
            failed++
            println("FAIL $name: $e")
        }
    }
    println("$passed passed, $failed failed")
    System.exit(if (failed == 0 && passed > 0) 0 else 1)
}
