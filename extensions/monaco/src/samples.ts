/** The languages the picker offers: Monaco's id, a file name to send as `filepath`, and starter code. */

export interface LanguageChoice {
  id: string;
  label: string;
  file: string;
  sample: string;
}

export const LANGUAGES: LanguageChoice[] = [
  { id: "python", label: "Python", file: "main.py", sample: 'import os\n\n\ndef read_lines(path):\n    """Return the lines of a text file."""\n' },
  { id: "javascript", label: "JavaScript", file: "main.js", sample: "const fs = require('fs');\n\nfunction readLines(path) {\n" },
  { id: "typescript", label: "TypeScript", file: "main.ts", sample: "export function sum(values: number[]): number {\n" },
  { id: "go", label: "Go", file: "main.go", sample: 'package main\n\nimport "fmt"\n\nfunc main() {\n' },
  { id: "rust", label: "Rust", file: "main.rs", sample: "fn main() {\n" },
  { id: "java", label: "Java", file: "Main.java", sample: "public class Main {\n    public static void main(String[] args) {\n" },
  { id: "cpp", label: "C++", file: "main.cpp", sample: "#include <iostream>\n\nint main() {\n" },
  { id: "shell", label: "Shell", file: "run.sh", sample: "#!/bin/sh\nset -eu\n" },
];
