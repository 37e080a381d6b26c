// Bundles the extension and the shared client code into one CommonJS file,
// so the .vsix ships no node_modules. `vscode` is provided by the editor.
import { build } from "esbuild";

const production = process.argv.includes("--production");
await build({
  entryPoints: ["src/extension.ts"],
  bundle: true,
  outfile: "dist/extension.js",
  format: "cjs",
  platform: "node",
  target: "node18", // VS Code 1.85's extension host
  external: ["vscode"],
  sourcemap: !production,
  minify: production,
  logLevel: "warning",
});
