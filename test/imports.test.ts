// The import rules of src/ (docs/ARCHITECTURE.md, "Layers"): no file reaches itself through its imports, and a
// folder imports only folders on lower levels of LAYERS (and its own files). Imports are read with the TypeScript
// parser: `import ... from`, `export ... from`, `import x = require(...)`, `import('...')` calls and
// `import('...').T` types. Type-only imports count like the others: a type is part of what a file knows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname, sep } from 'node:path';
import ts from 'typescript';

/** Bottom first. A folder may import folders of lower levels, never one of its own level or above. */
const LAYERS: string[][] = [
  ['util'], // atomic directory publishing, own(), stats: no project imports
  ['core'], // tensors, autograd, kernels and the native addon: nothing about recommenders
  ['nn', 'data', 'eval', 'report'], // layers + optimizers; feature pipeline; metrics; HTML charts
  ['models'],
  ['train'],
  ['export', 'cascade'], // bundles from a trained model or run; the cascade simulator over train
  ['serve', 'online', 'web'], // bundles served; online training publishing bundles; the WebAssembly scorer
  ['cli'],
  ['index.ts'], // the package's face
];

const ROOT = resolve(import.meta.dirname, '..', '..');
const SRC = join(ROOT, 'src');

interface Edge {
  from: string; // path from the repository root
  to: string;
  line: number;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [p] : [];
  });
}

const rel = (p: string): string => relative(ROOT, p).split(sep).join('/');

/** Every module specifier of a source text with its line; computed dynamic imports are returned as problems. */
function specifiers(file: string, text: string): { specs: { spec: string; line: number; typeOnly: boolean }[]; problems: string[] } {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const specs: { spec: string; line: number; typeOnly: boolean }[] = [];
  const problems: string[] = [];
  const lineOf = (n: ts.Node) => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
  const add = (lit: ts.Node, typeOnly: boolean) => {
    if (ts.isStringLiteralLike(lit)) specs.push({ spec: lit.text, line: lineOf(lit), typeOnly });
    else problems.push(`${file}:${lineOf(lit)}: import of a computed specifier cannot be checked`);
  };
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n)) {
      const c = n.importClause;
      const named = c?.namedBindings && ts.isNamedImports(c.namedBindings) ? c.namedBindings.elements : undefined;
      add(n.moduleSpecifier, !!c && (c.isTypeOnly || (!c.name && !!named?.length && named.every((e) => e.isTypeOnly))));
    } else if (ts.isExportDeclaration(n) && n.moduleSpecifier) {
      add(n.moduleSpecifier, n.isTypeOnly);
    } else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference)) {
      add(n.moduleReference.expression, n.isTypeOnly);
    } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(n.arguments[0], false);
    } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument)) {
      add(n.argument.literal, true);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return { specs, problems };
}

/** The import graph of src/: edges between its files, and whatever could not be read as one. */
function importGraph(): { files: string[]; edges: Edge[]; problems: string[] } {
  const files = sourceFiles(SRC);
  const edges: Edge[] = [];
  const problems: string[] = [];
  for (const file of files) {
    const r = specifiers(rel(file), readFileSync(file, 'utf8'));
    problems.push(...r.problems);
    for (const { spec, line, typeOnly } of r.specs) {
      if (!spec.startsWith('.')) continue; // a package or a node: built-in
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (!target.startsWith(SRC + sep) || !existsSync(target)) {
        problems.push(`${rel(file)}:${line}: '${spec}' is no source file under src/`);
        continue;
      }
      edges.push({ from: rel(file), to: rel(target), line, typeOnly });
    }
  }
  return { files: files.map(rel), edges, problems };
}

/** Strongly connected components with more than one file (or a file importing itself), by Tarjan's algorithm. */
function cycles(files: string[], edges: Edge[]): string[][] {
  const out = new Map<string, string[]>(files.map((f) => [f, []]));
  for (const e of edges) out.get(e.from)!.push(e.to);
  const index = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], onStack = new Set<string>(), found: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of out.get(v)!) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || out.get(v)!.includes(v)) found.push(scc.sort());
  };
  for (const f of files) if (!index.has(f)) connect(f);
  return found;
}

/** One shortest loop from the first file of a cycle back to it, as "file:line -> ...". */
function loopThrough(scc: string[], edges: Edge[]): string {
  const inside = new Set(scc);
  const start = scc[0];
  const via = new Map<string, Edge>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    for (const e of edges) {
      if (e.from !== queue[i] || !inside.has(e.to) || via.has(e.to)) continue;
      via.set(e.to, e);
      if (e.to === start) break;
      queue.push(e.to);
    }
    if (via.has(start)) break;
  }
  const path: Edge[] = [];
  for (let at = start; path.length === 0 || at !== start;) {
    const e = via.get(at)!;
    path.unshift(e);
    at = e.from;
  }
  return [...path.map((e) => `${e.from}:${e.line}${e.typeOnly ? ' (type)' : ''}`), start].join(' -> ');
}

/** The level of a file's folder under src/ (a file directly in src/ is its own folder). */
function levelOf(file: string): { folder: string; level: number } {
  const folder = file.split('/')[1];
  return { folder, level: LAYERS.findIndex((l) => l.includes(folder)) };
}

/** Each import of `edges` against LAYERS, as a message. */
function againstLayers(edges: Edge[]): string[] {
  return edges.flatMap((e) => {
    const a = levelOf(e.from), b = levelOf(e.to);
    if (a.folder === b.folder || a.level > b.level) return [];
    const where = a.level === b.level ? 'its own level' : 'a higher level';
    return [`  ${e.from}:${e.line} -> ${e.to}${e.typeOnly ? ' (type)' : ''}: ${a.folder} imports ${b.folder}, on ${where}`];
  });
}

test('the check reads every kind of import, and finds a planted cycle and planted imports against the layers', () => {
  const text = [
    "import type { A } from './a.js';",
    "import { b, type B } from './b.js';",
    "export { c } from './c.js';",
    "export type { D } from './d.js';",
    "const e = await import('./e.js');",
    "let f: import('./f.js').F;",
    "import g = require('./g.js');",
    "import h from 'node:fs';",
    'const i = await import(name);',
  ].join('\n');
  const { specs, problems } = specifiers('src/core/x.ts', text);
  assert.deepEqual(specs.map((s) => `${s.spec}${s.typeOnly ? ' type' : ''}`),
    ['./a.js type', './b.js', './c.js', './d.js type', './e.js', './f.js type', './g.js', 'node:fs']);
  assert.deepEqual(problems, ['src/core/x.ts:9: import of a computed specifier cannot be checked']);
  const edge = (from: string, to: string, line = 1, typeOnly = false): Edge => ({ from, to, line, typeOnly });
  const loop = [edge('src/core/a.ts', 'src/core/b.ts', 3, true), edge('src/core/b.ts', 'src/core/c.ts', 4), edge('src/core/c.ts', 'src/core/a.ts', 5)];
  const files = ['src/core/a.ts', 'src/core/b.ts', 'src/core/c.ts', 'src/core/d.ts'];
  assert.deepEqual(cycles(files, [...loop, edge('src/core/d.ts', 'src/core/a.ts')]), [['src/core/a.ts', 'src/core/b.ts', 'src/core/c.ts']]);
  assert.equal(loopThrough(['src/core/a.ts', 'src/core/b.ts', 'src/core/c.ts'], loop), 'src/core/a.ts:3 (type) -> src/core/b.ts:4 -> src/core/c.ts:5 -> src/core/a.ts');
  assert.deepEqual(cycles(files, loop.slice(1)), []);
  assert.deepEqual(againstLayers([edge('src/serve/a.ts', 'src/core/b.ts'), edge('src/core/b.ts', 'src/serve/a.ts', 7, true),
    edge('src/serve/a.ts', 'src/online/c.ts', 2)]), [
    '  src/core/b.ts:7 -> src/serve/a.ts (type): core imports serve, on a higher level',
    '  src/serve/a.ts:2 -> src/online/c.ts: serve imports online, on its own level',
  ]);
});

const graph = importGraph();

test('every import in src/ is read: relative specifiers name a source file, dynamic imports a string literal', () => {
  assert.ok(graph.edges.length > 100, `only ${graph.edges.length} imports read`);
  assert.deepEqual(graph.problems, []);
});

test('no import cycles between the files of src/', () => {
  const found = cycles(graph.files, graph.edges);
  const text = found.map((scc) => `  ${scc.length} files: ${scc.join(', ')}\n    ${loopThrough(scc, graph.edges)}`);
  assert.equal(found.length, 0, `${found.length} import cycle(s) (each: its files, then one loop through them; file:line is that file's import of the next):\n${text.join('\n')}`);
});

/** The levels of docs/ARCHITECTURE.md's "Layers" table, bottom first: rows "| level | folders | ... |". */
function documentedLayers(markdown: string): string[][] {
  const section = markdown.split(/^## /m).find((s) => s.startsWith('Layers\n')) ?? '';
  const rows = [...section.matchAll(/^\| (\d+) \| ([^|]+) \|/gm)];
  const levels = rows.map((r) => ({ level: Number(r[1]), folders: r[2].split(',').map((f) => f.trim().replace(/^`src\/(.*)`$/, '$1')) }));
  return levels.sort((a, b) => a.level - b.level).map((l) => l.folders);
}

test('docs/ARCHITECTURE.md draws the levels this check enforces', () => {
  assert.deepEqual(documentedLayers(readFileSync(join(ROOT, 'docs', 'ARCHITECTURE.md'), 'utf8')), LAYERS);
  assert.deepEqual(documentedLayers('## Layers\n| level | folders |\n|---|---|\n| 1 | b, c | x |\n| 0 | `src/a.ts` | y |\n'), [['a.ts'], ['b', 'c']]);
});

test('every folder of src/ has a level, and imports only folders of lower levels', () => {
  const folders = [...new Set(graph.files.map((f) => f.split('/')[1]))];
  assert.deepEqual(folders.filter((f) => levelOf(`src/${f}`).level < 0), [], 'folders missing from LAYERS');
  const up = againstLayers(graph.edges);
  assert.equal(up.length, 0, `${up.length} import(s) against the layers:\n${up.join('\n')}`);
});
