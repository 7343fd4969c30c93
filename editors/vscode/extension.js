// The VS Code side of tunespec: package.json declares the `tune` language and its grammar; this starts
// `tunespec server` (pip install 'tunespec[lsp]') for .tune files, over stdio, as the language client.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("tunespec").get("server.command", ["tunespec", "server"]);
  if (!Array.isArray(command) || command.length === 0) {
    return undefined; // highlighting only
  }
  client = new LanguageClient(
    "tunespec",
    "tunespec",
    { command: command[0], args: command.slice(1) },
    { documentSelector: [{ scheme: "file", language: "tune" }, { scheme: "untitled", language: "tune" }] },
  );
  context.subscriptions.push({ dispose: () => deactivate() });
  return client.start();
}

function deactivate() {
  const running = client;
  client = undefined;
  return running ? running.stop() : undefined;
}

module.exports = { activate, deactivate };
