// Builds the plugin where Gradle and the IntelliJ Platform can be downloaded:
//   gradle buildPlugin      -> build/distributions/codefill-jetbrains-0.1.0.zip
//   gradle runIde           -> a sandbox IDE with the plugin
//   gradle check            -> also runs the plain-Kotlin core tests (coreTests)
// See README.md for what is and is not tested on a machine without them.
import org.jetbrains.intellij.platform.gradle.TestFrameworkType

plugins {
    id("org.jetbrains.kotlin.jvm") version "2.1.0"
    id("org.jetbrains.intellij.platform") version "2.2.1"
}

group = "dev.codefill"
version = "0.1.0"

kotlin { jvmToolchain(21) }

repositories {
    mavenCentral()
    intellijPlatform { defaultRepositories() }
}

dependencies {
    intellijPlatform {
        // The inline completion API with InlineCompletionSuggestion (2024.2+).
        intellijIdeaCommunity("2024.2.4")
        testFramework(TestFrameworkType.Platform)
    }
}

intellijPlatform {
    pluginConfiguration {
        ideaVersion {
            sinceBuild = "242"
            untilBuild = provider { null }
        }
    }
}

// The core (dev.codefill.core) depends on the JDK only; its tests are a plain
// main() that prints "N passed, N failed" (the same jar tests/extensions builds with kotlinc).
val coreTests by tasks.registering(JavaExec::class) {
    classpath = sourceSets["test"].runtimeClasspath
    mainClass.set("dev.codefill.core.TestRunnerKt")
}
tasks.named("check") { dependsOn(coreTests) }
