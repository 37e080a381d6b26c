// Builds the playground into dist/: the page, its bundle (Monaco included,
// nothing from a CDN), Monaco's workers, CSS and the codicon font.
// The server serves dist/ at /playground (server/playground.py).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";

const production = !process.argv.includes("--dev");
rmSync("dist", { recursive: true, force: true });
mkdirSync("dist");
const common = { bundle: true, format: "esm", target: "es2022", minify: production, logLevel: "warning" };
await build({
  ...common,
  entryPoints: { playground: "src/main.ts" },
  outdir: "dist",
  splitting: true, // Monaco loads each language's grammar on demand
  chunkNames: "chunks/[name]-[hash]",
  loader: { ".ttf": "file" },
  assetNames: "assets/[name]-[hash]",
});
// One worker per family of language services; src/workers.ts picks by label.
const features = "monaco-editor/languages/features";
await build({
  ...common,
  entryPoints: {
    "editor.worker": "monaco-editor/editor/editor.worker",
    "json.worker": `${features}/json/json.worker`,
    "css.worker": `${features}/css/css.worker`,
    "html.worker": `${features}/html/html.worker`,
    "ts.worker": `${features}/typescript/ts.worker`,
  },
  outdir: "dist/workers",
});
copyFileSync("src/index.html", "dist/index.html");
