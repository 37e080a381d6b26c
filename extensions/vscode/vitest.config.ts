import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// The real `vscode` module exists only inside VS Code; the unit tests get a fake.
export default defineConfig({
  resolve: { alias: { vscode: fileURLToPath(new URL("./test/fake-vscode.ts", import.meta.url)) } },
  test: { include: ["test/**/*.test.ts"], testTimeout: 60_000 },
});
