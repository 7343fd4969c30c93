"""The language server (`tunespec server`, LSP over stdio): tunespec's own engine behind an editor.

Only `tunespec server` imports this package (and, through `app`, pygls): `lint` and every other command
start as they did. The modules other than `app` are plain functions over tunespec's API, so that what the
editor shows can be tested without a client:

- `documents`: one buffer linted as the file it will be saved as (`tunespec.api.lint_text`), and what
  is written at a place in it;
- `hover`: a field's documented range, defaults and sources, and its resolved values as `tunespec show`
  prints them; a rule's page as `tunespec rule` prints it;
- `complete`: where the cursor is (which declaration, which block, before or after `=`) read from the
  text up to it, which need not parse, and what may be written there;
- `app`: the pygls server that wires these to the protocol.
"""
