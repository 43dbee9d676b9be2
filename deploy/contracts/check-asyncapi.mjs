// Parses docs/asyncapi.yaml with the official AsyncAPI parser (@asyncapi/parser, what Studio and
// the generators use) and fails on any error: `make test` runs it. NODE_PATH names the directory
// the parser was installed into (the Makefile installs it under .venv/tools, never the repo).
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.resolve(process.env.NODE_PATH ?? ".", "noop.js"));
const { Parser, DiagnosticSeverity } = require("@asyncapi/parser");

const file = process.argv[2] ?? "docs/asyncapi.yaml";
const source = await readFile(file, "utf8");
const { document, diagnostics } = await new Parser().parse(source, { source: path.resolve(file) });
const names = { [DiagnosticSeverity.Error]: "error", [DiagnosticSeverity.Warning]: "warning" };
const shown = diagnostics.filter((d) => d.severity in names);
for (const d of shown) {
  const where = d.path.length ? d.path.join("/") : "(document)";
  console.log(`${names[d.severity]}: ${d.code}: ${d.message} at ${where}`);
}
const errors = shown.filter((d) => d.severity === DiagnosticSeverity.Error).length;
if (!document || errors) {
  console.error(`${file}: ${errors} error(s): the AsyncAPI parser refuses it`);
  process.exit(1);
}
console.log(
  `${file}: parsed by @asyncapi/parser, 0 errors, ${shown.length} warning(s); ` +
    `${document.channels().length} channels, ${document.operations().length} operations, ` +
    `${document.components().messages().length} messages`,
);
