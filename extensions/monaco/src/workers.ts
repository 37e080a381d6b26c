/** Tells Monaco where its web workers are: next to the page, built by build.mjs. */

const BY_LABEL: Record<string, string> = {
  json: "json.worker.js",
  css: "css.worker.js",
  scss: "css.worker.js",
  less: "css.worker.js",
  html: "html.worker.js",
  handlebars: "html.worker.js",
  razor: "html.worker.js",
  typescript: "ts.worker.js",
  javascript: "ts.worker.js",
};

export function workerFile(label: string): string {
  return BY_LABEL[label] ?? "editor.worker.js";
}

export function installWorkers(): void {
  (self as unknown as { MonacoEnvironment: unknown }).MonacoEnvironment = {
    getWorker(_moduleId: string, label: string) {
      return new Worker(new URL(`./workers/${workerFile(label)}`, import.meta.url), { type: "module", name: label });
    },
  };
}
