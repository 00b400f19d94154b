// Parse Mermaid diagrams with Mermaid's own parser (the one GitHub's renderer runs).
// stdin: a JSON list of {"name": ..., "text": ...}; stdout: a JSON list of
// {"name", "ok", "type", "error"}, one per diagram, in order. Exit 0 whatever the diagrams say;
// a non-zero exit means the checker itself failed.
import { JSDOM } from 'jsdom';

// mermaid's parser sanitises labels with DOMPurify, which needs a DOM: jsdom gives it one.
const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false });

let input = '';
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const { name, text } of JSON.parse(input)) {
  try {
    const parsed = await mermaid.parse(text);
    results.push({ name, ok: true, type: parsed.diagramType, error: null });
  } catch (err) {
    results.push({ name, ok: false, type: null, error: String(err?.message ?? err) });
  }
}
process.stdout.write(JSON.stringify(results));
