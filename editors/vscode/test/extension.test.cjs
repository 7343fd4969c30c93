// Loads ../extension.js with stand-ins for `vscode` and `vscode-languageclient/node` (neither runs outside
// VS Code) and prints what it asked for: the server command from the settings, and the documents it serves.
const Module = require("node:module");
const path = require("node:path");

const settings = JSON.parse(process.argv[2] || "null");
const started = [];
const stand_ins = {
  vscode: {
    workspace: {
      getConfiguration: (section) => ({
        get: (key, fallback) => (settings === null ? fallback : settings[`${section}.${key}`]),
      }),
    },
  },
  "vscode-languageclient/node": {
    LanguageClient: class {
      constructor(id, name, server, options) {
        started.push({ id, server, selector: options.documentSelector, stopped: false });
      }
      start() { return Promise.resolve(); }
      stop() { started[started.length - 1].stopped = true; return Promise.resolve(); }
    },
  },
};
const load = Module._load;
Module._load = function (request, ...rest) {
  return request in stand_ins ? stand_ins[request] : load.call(this, request, ...rest);
};

const extension = require(path.join(__dirname, "..", "extension.js"));
const context = { subscriptions: [] };
Promise.resolve(extension.activate(context))
  .then(() => extension.deactivate())
  .then(() => process.stdout.write(JSON.stringify({ started, subscriptions: context.subscriptions.length })));
