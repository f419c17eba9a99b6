#!/usr/bin/env node
// mermaid-check — parse every Mermaid diagram in the given files with Mermaid itself.
//
// Usage: node scripts/mermaid-check.mjs FILE...
//
// A `.md` file's ```mermaid fenced blocks are parsed one by one; any other file is parsed as
// one diagram. Prints `PASS <file>#<n>` or `FAIL <file>#<n>: <error>` per diagram and exits 1
// when one fails, 2 when the tools are missing. Mermaid and jsdom are looked up in
// $PLINTH_TOOLS/npm/node_modules (scripts/install-tools puts them there; default
// <repo>/.tools). Mermaid's parser needs no browser, but it loads DOMPurify, which needs a
// `window`: jsdom provides one.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const modules = join(process.env.PLINTH_TOOLS || join(repo, '.tools'), 'npm', 'node_modules');
if (!existsSync(join(modules, 'mermaid')) || !existsSync(join(modules, 'jsdom'))) {
  console.error(`mermaid-check: mermaid and jsdom not found in ${modules}; run scripts/install-tools`);
  process.exit(2);
}
const { JSDOM } = createRequire(join(modules, 'noop.js'))('jsdom');
const dom = new JSDOM('');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const pkg = JSON.parse(readFileSync(join(modules, 'mermaid', 'package.json'), 'utf8'));
const entry = join(modules, 'mermaid', pkg.exports['.'].import);
const mermaid = (await import(pathToFileURL(entry).href)).default;

/** The diagrams of a file: the fenced mermaid blocks of Markdown, or the whole file. */
function diagrams(path, text) {
  if (!path.endsWith('.md')) return [text];
  const out = [];
  const re = /^```mermaid\n([\s\S]*?)^```$/gm;
  let m;
  while ((m = re.exec(text)) !== null) out.push(m[1]);
  return out;
}

let failed = 0;
for (const path of process.argv.slice(2)) {
  const found = diagrams(path, readFileSync(path, 'utf8'));
  if (found.length === 0) {
    console.log(`FAIL ${path}: no mermaid diagram`);
    failed++;
  }
  for (const [i, d] of found.entries()) {
    try {
      await mermaid.parse(d);
      console.log(`PASS ${path}#${i + 1}`);
    } catch (e) {
      console.log(`FAIL ${path}#${i + 1}: ${String(e.message || e).split('\n').join(' ')}`);
      failed++;
    }
  }
}
process.exit(failed ? 1 : 0);
