// The import map a page needs to load the AI SDK's ESM build (npm ai, as
// installed here) in a browser with no build step: every bare specifier in its
// static import graph, resolved as a browser would be served it (Node's own
// resolver with the "browser" condition), mapped to /node_modules/<path>.
//
// Run as: node --conditions=browser --experimental-import-meta-resolve \
//           browser-importmap.mjs [--entry ai] [--shim SPEC=URL ...]
// A --shim maps SPEC to URL instead (for a CommonJS-only package, which a
// browser cannot import as a module; bundlers convert those); the graph is
// not followed into it. Any other CommonJS file in the graph is an error.
//
// stdout, JSON:
//   {"importMap": {"imports": {...}, "scopes": {...}},
//    "files": ["ai/dist/index.js", ...],   // every module, relative to node_modules
//    "shimmed": {"SPEC": "resolved/path/index.js"}}
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

if (!process.execArgv.includes('--experimental-import-meta-resolve') ||
    !process.execArgv.some(a => a === '--conditions=browser' || a === '-C=browser')) {
  console.error('run with --conditions=browser --experimental-import-meta-resolve');
  process.exit(2);
}
const args = process.argv.slice(2);
let entry = 'ai';
const shims = {};
for (let i = 0; i < args.length; i += 2) {
  if (args[i] === '--entry') entry = args[i + 1];
  else if (args[i] === '--shim') {
    const [spec, url] = args[i + 1].split('=');
    shims[spec] = url;
  } else throw new Error(`unknown argument ${args[i]}`);
}

const here = dirname(fileURLToPath(import.meta.url));
const modulesDir = join(here, 'node_modules');
const served = file => '/node_modules/' + relative(modulesDir, file).split(sep).join('/');
const packageDir = file => {
  const rel = relative(modulesDir, file).split(sep);
  // the last node_modules/<name> or node_modules/@scope/<name> in the path
  let end = rel[0].startsWith('@') ? 2 : 1;
  for (let i = 0; i < rel.length; i++) {
    if (rel[i] === 'node_modules') end = i + (rel[i + 1].startsWith('@') ? 3 : 2);
  }
  return join(modulesDir, ...rel.slice(0, end));
};
const isCommonJs = file => {
  if (file.endsWith('.cjs')) return true;
  if (file.endsWith('.mjs')) return false;
  for (let dir = dirname(file); dir.startsWith(modulesDir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const { type } = JSON.parse(readFileSync(manifest, 'utf8'));
      if (type !== undefined || dir === packageDir(file)) return type !== 'module';
    }
  }
  return true;
};

// Static imports and re-exports (what a browser links before running
// anything); import() is left out, it loads only if called.
const STATIC = /(?:^|[;\n}])\s*(?:import|export)\s*(?:[\w*${},\s]+?\s*from\s*)?["']([^"']+)["']/g;
const imports = {};
const scopes = {};
const shimmed = {};
const files = [];
const seen = new Set();
const start = import.meta.resolve(entry, pathToFileURL(join(here, 'package.json')).href);
imports[entry] = served(fileURLToPath(start));
const queue = [start];
while (queue.length) {
  const url = queue.shift();
  if (seen.has(url)) continue;
  seen.add(url);
  const file = fileURLToPath(url);
  if (isCommonJs(file)) throw new Error(`${served(file)} is CommonJS: a browser cannot import it`);
  files.push(relative(modulesDir, file).split(sep).join('/'));
  const source = readFileSync(file, 'utf8');
  for (const [, spec] of source.matchAll(STATIC)) {
    if (spec.startsWith('node:')) throw new Error(`${served(file)} imports ${spec}`);
    const bare = !spec.startsWith('.') && !spec.startsWith('/');
    if (bare && spec in shims) {
      imports[spec] = shims[spec];
      shimmed[spec] = served(fileURLToPath(import.meta.resolve(spec, url)));
      continue;
    }
    const resolved = import.meta.resolve(spec, url);
    if (!resolved.startsWith('file:')) throw new Error(`${served(file)} imports ${spec}: ${resolved}`);
    if (bare) {
      const target = served(fileURLToPath(resolved));
      if (imports[spec] === undefined) imports[spec] = target;
      else if (imports[spec] !== target) {
        const scope = served(packageDir(file)) + '/';
        (scopes[scope] ??= {})[spec] = target;
      }
    }
    queue.push(resolved);
  }
}
process.stdout.write(JSON.stringify({ importMap: { imports, scopes }, files, shimmed }));
