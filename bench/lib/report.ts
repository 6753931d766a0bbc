/**
 * Results of `npm run bench`: each row is one measure taken several times (one value per run),
 * beside the machine's ceiling and, where there is one, a peer measured in the same run. Rows are
 * summarised as median and spread; ratios are of medians. Written as JSON and as a markdown table.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';

export interface Series {
  name: string;
  values: number[];
}

export interface Row {
  scenario: string;
  case: string;
  unit: string;
  /** Throughput rows are better higher; latency rows lower. */
  better: 'higher' | 'lower';
  ours: number[];
  ceiling?: Series;
  peer?: Series;
  /** The aims for this case, e.g. { of: 'ceiling', atLeast: 0.9 } or { value: 10, atMost: true }. */
  aims?: Aim[];
  note?: string;
}

export type Aim = { of: 'ceiling' | 'peer'; atLeast: number } | { value: number; atMost?: boolean };

export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export const median = (xs: number[]): number => {
  const s = [...xs].filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export const summary = (xs: number[]): Summary => {
  const f = xs.filter(Number.isFinite);
  return {
    median: median(f),
    min: f.length ? Math.min(...f) : NaN,
    max: f.length ? Math.max(...f) : NaN,
    runs: f.length,
  };
};

export const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** ours ÷ other, by medians (for "lower is better" rows, other ÷ ours, so > 1 is always better). */
export function ratio(row: Row, other: Series | undefined): number | undefined {
  if (!other) return undefined;
  const o = median(row.ours);
  const c = median(other.values);
  if (!Number.isFinite(o) || !Number.isFinite(c) || o === 0 || c === 0) return undefined;
  return row.better === 'higher' ? o / c : c / o;
}

function met(row: Row, a: Aim): boolean | undefined {
  if ('of' in a) {
    const r = ratio(row, a.of === 'ceiling' ? row.ceiling : row.peer);
    return r === undefined ? undefined : r >= a.atLeast;
  }
  const m = median(row.ours);
  return Number.isFinite(m) ? (a.atMost ? m <= a.value : m >= a.value) : undefined;
}

function text(row: Row, a: Aim): string {
  if ('of' in a) return `≥ ${a.atLeast}× ${a.of}`;
  return `${a.atMost ? '≤' : '≥'} ${fmt(a.value, row.unit)} ${row.unit}`;
}

/** An aim back from its text in a results file (files written before `aimSpecs` was kept). */
export function aimFromText(t: string): Aim | undefined {
  const of = /^≥ ([\d.]+)× (ceiling|peer)$/.exec(t);
  if (of) return { of: of[2] as 'ceiling' | 'peer', atLeast: Number(of[1]) };
  const v = /^(≤|≥) ([\d,.]+) /.exec(t);
  if (v) return { value: Number(v[2]!.replace(/,/g, '')), ...(v[1] === '≤' ? { atMost: true } : {}) };
  return undefined;
}

export function aimResults(row: Row): { text: string; met: boolean | null }[] {
  return (row.aims ?? []).map((a) => ({ text: text(row, a), met: met(row, a) ?? null }));
}

export function fmt(x: number, unit: string): string {
  if (!Number.isFinite(x)) return 'n/a';
  if (unit === 'ms' || unit === 'µs')
    return x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : Math.round(x).toLocaleString('en-US');
  return Math.round(x).toLocaleString('en-US');
}

const spread = (s: Summary, unit: string) => (s.runs > 1 ? `${fmt(s.min, unit)}–${fmt(s.max, unit)}` : '');

export function markdown(rows: Row[], meta: Meta): string {
  const header = [
    'scenario',
    'case',
    'ours (median)',
    'spread',
    'unit',
    'ceiling',
    'ceiling value',
    '× ceiling',
    'peer',
    'peer value',
    '× peer',
    'aim',
    'met',
  ];
  const body = rows.map((r) => {
    const o = summary(r.ours);
    const rc = ratio(r, r.ceiling);
    const rp = ratio(r, r.peer);
    const aims = aimResults(r);
    return [
      r.scenario,
      r.case,
      fmt(o.median, r.unit),
      spread(o, r.unit),
      r.unit,
      r.ceiling?.name ?? '',
      r.ceiling ? fmt(median(r.ceiling.values), r.unit) : '',
      rc === undefined ? '' : `${rc.toFixed(2)}×`,
      r.peer?.name ?? '',
      r.peer ? fmt(median(r.peer.values), r.unit) : '',
      rp === undefined ? '' : `${rp.toFixed(2)}×`,
      aims.map((a) => a.text).join('; '),
      aims.map((a) => (a.met === null ? '?' : a.met ? 'yes' : 'no')).join('; '),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const table = [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
  const notes = rows.filter((r) => r.note).map((r) => `- ${r.scenario} / ${r.case}: ${r.note}`);
  return (
    `# Benchmarks${meta.quick ? ' (quick: small sizes, figures not comparable)' : ''}\n\n` +
    `${meta.at} — ${meta.machine}; ${meta.runs} runs per case (median, and min–max as spread); ratios are of medians, ` +
    `written so that above 1× is better (for latencies: the other's value ÷ ours).\n\n${table}\n` +
    (meta.merged ? `\nMerged: ${meta.merged} (\`--merge\`).\n` : '') +
    (meta.versions.length ? `\nVersions: ${meta.versions.join(', ')}.\n` : '') +
    (notes.length ? `\n${notes.join('\n')}\n` : '')
  );
}

export interface Meta {
  at: string;
  machine: string;
  quick: boolean;
  runs: number;
  versions: string[];
  scenarios: string[];
  /** With --merge: which rows came from an earlier run, and when. */
  merged?: string;
}

export function machine(databaseUrl: string): string {
  return `${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? 'unknown'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, Postgres at ${new URL(databaseUrl).host}`;
}

export async function writeResults(dir: URL, rows: Row[], meta: Meta): Promise<{ json: URL; md: URL }> {
  await mkdir(dir, { recursive: true });
  const json = new URL('latest.json', dir);
  const md = new URL('latest.md', dir);
  const out = {
    meta,
    rows: rows.map((r) => ({
      ...r,
      ours: { values: r.ours, ...summary(r.ours) },
      ...(r.ceiling
        ? { ceiling: { name: r.ceiling.name, values: r.ceiling.values, ...summary(r.ceiling.values) } }
        : {}),
      ...(r.peer ? { peer: { name: r.peer.name, values: r.peer.values, ...summary(r.peer.values) } } : {}),
      ratioToCeiling: ratio(r, r.ceiling) ?? null,
      ratioToPeer: ratio(r, r.peer) ?? null,
      aims: aimResults(r),
      aimSpecs: r.aims ?? [],
    })),
  };
  await writeFile(json, `${JSON.stringify(out, null, 2)}\n`);
  await writeFile(md, markdown(rows, meta));
  return { json, md };
}
