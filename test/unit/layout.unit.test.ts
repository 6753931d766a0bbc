import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

// The layout the README describes, held against the code's own imports: a new import that breaks
// it fails here, with the files that break it.
const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

interface Import {
  from: string;
  to: string;
  line: string;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

const FILES = sources(SRC);
const text = new Map(FILES.map((f) => [f, readFileSync(f, 'utf8')]));
const rel = (f: string) => relative(SRC, f).split(sep).join('/');
/** The top folder of src/ a file is in. */
const folderOf = (f: string) => rel(f).split('/')[0]!;

/** Every import and re-export of a file, static or dynamic, with what it names. */
function importsOf(file: string): { spec: string; line: string }[] {
  const found: { spec: string; line: string }[] = [];
  const patterns = [
    /^\s*(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]/gm,
    /^\s*import\s*['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const m of text.get(file)!.matchAll(pattern)) found.push({ spec: m[1]!, line: m[0].trim() });
  }
  return found;
}

const IMPORTS: Import[] = FILES.flatMap((file) =>
  importsOf(file)
    .filter((i) => i.spec.startsWith('.'))
    .map((i) => ({ from: file, to: resolve(dirname(file), i.spec).replace(/\.js$/, '.ts'), line: i.line }))
    .filter((i) => i.to.startsWith(SRC + sep)),
);

/** Folder → the folders it imports, each with one import that shows it. */
function folderGraph(): Map<string, Map<string, Import>> {
  const graph = new Map<string, Map<string, Import>>();
  for (const i of IMPORTS) {
    const a = folderOf(i.from);
    const b = folderOf(i.to);
    if (a === b) continue;
    if (!graph.has(a)) graph.set(a, new Map());
    if (!graph.get(a)!.has(b)) graph.get(a)!.set(b, i);
  }
  return graph;
}

/** A loop of folders, if there is one (depth-first search for a back edge). */
function folderCycle(graph: Map<string, Map<string, Import>>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node)?.keys() ?? []) {
      if (state.get(next) === 'open') return [...path.slice(path.indexOf(next)), next];
      if (!state.has(next)) {
        const found = visit(next);
        if (found) return found;
      }
    }
    path.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of graph.keys()) {
    if (!state.has(node)) {
      const found = visit(node);
      if (found) return found;
    }
  }
  return undefined;
}

const show = (i: Import) => `${rel(i.from)}: ${i.line}`;
const importsInto = (from: (f: string) => boolean, to: (f: string) => boolean) =>
  IMPORTS.filter((i) => from(rel(i.from)) && to(rel(i.to))).map(show);
const under =
  (...folders: string[]) =>
  (path: string) =>
    folders.some((f) => path.startsWith(`${f}/`));

describe('The layout of src/', () => {
  it('reads the source files and their imports', () => {
    expect(FILES.length).to.be.greaterThan(100);
    expect(IMPORTS.length).to.be.greaterThan(500);
  });

  it('has no two folders that import each other, nor any longer loop of folders', () => {
    const graph = folderGraph();
    const cycle = folderCycle(graph);
    const proof = cycle?.slice(1).map((to, k) => show(graph.get(cycle[k]!)!.get(to)!));
    expect(cycle, `a loop of folders: ${cycle?.join(' → ')}\n${proof?.join('\n')}`).to.equal(undefined);
  });

  it('keeps the domain pure: it imports only itself and libraries without IO', () => {
    const outside = importsInto(under('domain'), (to) => !to.startsWith('domain/'));
    const packages = FILES.filter((f) => rel(f).startsWith('domain/')).flatMap((f) =>
      importsOf(f)
        .filter((i) => !i.spec.startsWith('.') && !['zod', 'uuid', 'node:crypto', 'node:util'].includes(i.spec))
        .map((i) => `${rel(f)}: ${i.line}`),
    );
    expect([...outside, ...packages]).to.deep.equal([]);
  });

  it('keeps the projection engine apart from what it runs', () => {
    const runs = under('read-models', 'reactors', 'application', 'http', 'realtime', 'jobs', 'process', 'cli');
    expect(importsInto(under('projections'), runs)).to.deep.equal([]);
  });

  it('composes the process in one place: only the entry points import process/', () => {
    expect(importsInto((f) => !under('process', 'cli')(f), under('process'))).to.deep.equal([]);
    expect(importsInto(() => true, under('cli')).filter((l) => !l.startsWith('cli/'))).to.deep.equal([]);
  });

  it('lets routes, realtime and jobs call read-model queries, never write their own SQL', () => {
    const sql = FILES.filter(
      (f) => under('http/routes', 'realtime', 'jobs')(rel(f)) && !rel(f).endsWith('routes/health.ts'),
    ).filter((f) => /\bknex\s*\(|\.raw\s*\(|\bselect\s+[\w*]+.*\bfrom\b/i.test(text.get(f)!));
    expect(sql.map(rel)).to.deep.equal([]);
  });

  it('names streams only through their aggregate', () => {
    const literal = /['"`](?:load|carrier|organisation|payment|tracking)-(?:['"`]|\$\{)/;
    const code = (f: string) =>
      text
        .get(f)!
        .split('\n')
        .filter((l) => !/^\s*(\*|\/\/|\/\*)/.test(l));
    const named = FILES.filter((f) => !/^domain\/\w+\/stream\.ts$/.test(rel(f))).flatMap((f) =>
      code(f)
        .filter((l) => literal.test(l))
        .map((l) => `${rel(f)}: ${l.trim()}`),
    );
    // The seed's ids are uuid v5 of a name that happens to start so; changing it would change every seeded id.
    expect(named.filter((l) => !l.startsWith('seed/seed.ts: const loadId = uuidv5('))).to.deep.equal([]);
  });
});
