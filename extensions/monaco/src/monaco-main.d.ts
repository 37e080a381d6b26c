// The ESM entry that loads Monaco with all its contributions has the same API
// as the package's typed root.
declare module "monaco-editor/editor/editor.main" {
  export * from "monaco-editor";
}
