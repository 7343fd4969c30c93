// Tokenise .tune files with ../syntaxes/tune.tmLanguage.json through vscode-textmate and vscode-oniguruma,
// the engine VS Code itself runs, and print one JSON object: for each file, its tokens per line
// ({line, start, end, scopes}) and the depth of the rule stack at its end (1: nothing left open).
//
//   node tokenize.mjs FILE...        (tests/test_textmate_grammar.py runs it; `npm ci` here first)
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const textmate = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const here = dirname(fileURLToPath(import.meta.url));
const grammarPath = join(here, "..", "syntaxes", "tune.tmLanguage.json");
const wasm = readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm"));
await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));

const registry = new textmate.Registry({
  onigLib: Promise.resolve({
    createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
    createOnigString: (text) => new oniguruma.OnigString(text),
  }),
  loadGrammar: async (scopeName) =>
    scopeName === "source.tune" ? textmate.parseRawGrammar(readFileSync(grammarPath, "utf8"), grammarPath) : null,
});
const grammar = await registry.loadGrammar("source.tune");

const result = {};
for (const file of process.argv.slice(2)) {
  const lines = readFileSync(file, "utf8").replace(/^\uFEFF/, "").split(/\r?\n/);
  let stack = textmate.INITIAL;
  const tokens = [];
  lines.forEach((text, line) => {
    const found = grammar.tokenizeLine(text, stack);
    for (const token of found.tokens) {
      tokens.push({ line, start: token.startIndex, end: Math.min(token.endIndex, text.length), scopes: token.scopes });
    }
    stack = found.ruleStack;
  });
  result[file] = { lines, tokens, depth: stack.depth };
}
process.stdout.write(JSON.stringify(result));
