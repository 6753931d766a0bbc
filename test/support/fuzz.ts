import { connect } from 'node:net';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

/**
 * The fuzz suite's tools: a seeded PRNG (every request is a function of the seed and its index, so
 * one can be replayed), a raw HTTP/1.1 client (a request line, headers and body bytes as given, which
 * no well-behaved client would send), the operations of the OpenAPI document, and values from their
 * schemas: valid ones, and the junk that should be refused.
 */

/** mulberry32: small, fast, good enough to spread requests; not for anything secret. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  static derive(seed: number, index: number): Rng {
    // Mixing (seed, index) through one step of the generator: neighbouring indices get unrelated streams.
    const r = new Rng(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35));
    r.float();
    return r;
  }
  float(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.float() < p;
  }
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('pick from nothing');
    return xs[Math.floor(this.float() * xs.length)]!;
  }
  shuffle<T>(xs: readonly T[]): T[] {
    const a = [...xs];
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }
  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[this.int(0, 15)];
    return s;
  }
  /** A version 4 uuid. */
  uuid(): string {
    const h = this.hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[this.int(0, 3)]}${h.slice(17, 20)}-${h.slice(20)}`;
  }
}

// ---------------------------------------------------------------------------------------------
// A raw HTTP/1.1 client: one connection per request, `Connection: close`, bytes exactly as given.

export interface RawRequest {
  method: string;
  /** The request target as it goes on the request line (already percent-encoded, or not). */
  target: string;
  headers: [string, string | Buffer][];
  body?: Buffer;
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

function decodeChunked(buf: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let i = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', i);
    if (eol < 0) return undefined;
    const size = parseInt(buf.subarray(i, eol).toString('latin1').split(';')[0]!, 16);
    if (Number.isNaN(size)) return undefined;
    if (size === 0) return Buffer.concat(parts);
    if (buf.length < eol + 2 + size) return undefined;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
}

/** The first answer in `data`, when it is complete (or the connection ended: then whatever came). */
function parseAnswer(data: Buffer, method: string, ended: boolean): RawAnswer | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(statusLine.split(' ')[1]);
  // An interim answer (100 Continue) precedes the one that counts.
  if (status >= 100 && status < 200 && status !== 101) return parseAnswer(data.subarray(end + 4), method, ended);
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const k = l.slice(0, l.indexOf(':')).trim().toLowerCase();
    const v = l.slice(l.indexOf(':') + 1).trim();
    headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
  }
  const rest = data.subarray(end + 4);
  let body: Buffer | undefined;
  if (method === 'HEAD' || status === 204 || status === 304 || status === 101) body = Buffer.alloc(0);
  else if (/chunked/i.test(headers['transfer-encoding'] ?? ''))
    body = decodeChunked(rest) ?? (ended ? rest : undefined);
  else if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    body = rest.length >= n ? rest.subarray(0, n) : ended ? rest : undefined;
  } else body = ended ? rest : undefined;
  if (!body) return undefined;
  const enc = (headers['content-encoding'] ?? '').toLowerCase();
  try {
    if (enc === 'gzip') body = gunzipSync(body);
    else if (enc === 'deflate') body = inflateSync(body);
    else if (enc === 'br') body = brotliDecompressSync(body);
  } catch {
    // Left as sent: the assertions will say the body is not what it claims to be.
  }
  return { status, headers, body };
}

/** Sends one request on a new connection and reads the first answer on it. */
export function sendRaw(port: number, req: RawRequest, timeoutMs: number): Promise<RawAnswer> {
  const head = Buffer.concat([
    Buffer.from(`${req.method} ${req.target} HTTP/1.1\r\n`, 'latin1'),
    ...req.headers.map(([k, v]) =>
      Buffer.concat([
        Buffer.from(`${k}: `, 'latin1'),
        typeof v === 'string' ? Buffer.from(v, 'utf8') : v,
        Buffer.from('\r\n'),
      ]),
    ),
    Buffer.from('\r\n'),
  ]);
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (ended: boolean, err?: Error) => {
      if (done) return;
      const answer = parseAnswer(Buffer.concat(chunks), req.method, ended);
      if (answer) {
        done = true;
        clearTimeout(timer);
        socket.destroy();
        resolve(answer);
      } else if (ended) {
        done = true;
        clearTimeout(timer);
        socket.destroy();
        reject(err ?? new Error(`the connection closed without an answer (${Buffer.concat(chunks).length} bytes)`));
      }
    };
    const timer = setTimeout(() => finish(true, new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      finish(false);
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    // A server that answers before reading the whole body may reset the connection while it is being
    // written; what it answered before that is still read (and judged).
    socket.on('error', (err) => finish(true, err));
    socket.on('connect', () => {
      socket.write(head);
      if (req.body?.length) socket.write(req.body);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The OpenAPI document: operations and their schemas.

export interface Schema {
  type?: string | string[];
  format?: string;
  pattern?: string;
  enum?: unknown[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  default?: unknown;
  $ref?: string;
}

export interface Param {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  schema: Schema;
}

export interface Operation {
  method: 'get' | 'post';
  path: string;
  operationId: string;
  params: Param[];
  body?: Schema;
  /** Takes Idempotency-Key and If-Match. */
  command: boolean;
}

interface OpenApiDoc {
  paths: Record<
    string,
    Record<
      string,
      { operationId: string; parameters?: Param[]; requestBody?: { content: Record<string, { schema: Schema }> } }
    >
  >;
  components?: { schemas?: Record<string, Schema> };
}

/** Every operation (path × method) of the document, with `$ref`s resolved. */
export function operationsOf(doc: OpenApiDoc): Operation[] {
  const resolve = (s: Schema): Schema => {
    if (s.$ref) return resolve(doc.components?.schemas?.[s.$ref.split('/').pop()!] ?? {});
    const out: Schema = { ...s };
    if (s.properties)
      out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, resolve(v)]));
    if (s.items) out.items = resolve(s.items);
    for (const k of ['anyOf', 'oneOf', 'allOf'] as const) if (s[k]) out[k] = s[k]!.map(resolve);
    return out;
  };
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = (op.parameters ?? []).map((p) => ({
        ...p,
        required: !!p.required,
        schema: resolve(p.schema ?? {}),
      }));
      const body = op.requestBody?.content['application/json']?.schema;
      ops.push({
        method: method as 'get' | 'post',
        path,
        operationId: op.operationId,
        params,
        ...(body ? { body: resolve(body) } : {}),
        command: params.some((p) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key'),
      });
    }
  }
  return ops;
}

// ---------------------------------------------------------------------------------------------
// Values from schemas.

const DAY = 86_400_000;
const PATTERNS: [RegExp, (r: Rng) => string][] = [
  [/A-Z\]\{2\}/, (r) => r.pick(['TX', 'OK', 'LA', 'CA', 'NM'])],
  [/\(MC-\?\)/, (r) => `MC-${r.int(100_000, 9_999_999)}`],
  [/\^\\d\{1,8\}/, (r) => String(r.int(1, 99_999_999))],
  [/\^cus_/, (r) => `cus_Fz${r.hex(8)}`],
  [/\^pm_/, (r) => `pm_Fz${r.hex(8)}`],
  [/\^acct_/, (r) => `acct_Fz${r.hex(8)}`],
  [/\\d\{5\}/, (r) => r.pick(['77001', '75201-1234'])],
  [/\^\\\+\[1-9\]/, (r) => `+1512555${r.int(1000, 9999)}`],
];

/**
 * A value the schema accepts. `hint` answers for fields and parameters whose meaning the schema
 * cannot carry (a carrier id should name a real carrier): undefined leaves it to the schema.
 */
export function validValue(r: Rng, s: Schema, hint: (name: string) => unknown = () => undefined, name = ''): unknown {
  const hinted = name ? hint(name) : undefined;
  if (hinted !== undefined) return hinted;
  if (s.enum?.length) return r.pick(s.enum);
  const branches = s.anyOf ?? s.oneOf;
  if (branches?.length) {
    // A bare string branch (`TX,OK`) says less than the array of patterns or enums beside it.
    const structured = branches.filter((b) => b.enum || b.items || b.pattern || b.format || b.properties);
    return validValue(r, r.pick(structured.length ? structured : branches), hint, name);
  }
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  switch (type ?? (s.properties ? 'object' : undefined)) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(s.properties ?? {})) {
        if (s.required?.includes(k) || r.chance(0.5)) out[k] = validValue(r, v, hint, k);
      }
      return out;
    }
    case 'array': {
      const n = r.int(s.minItems ?? 0, Math.min(s.maxItems ?? 3, (s.minItems ?? 0) + 2));
      const items: unknown[] = [];
      for (let i = 0; i < n; i++) items.push(validValue(r, s.items ?? {}, hint, `${name}[]`));
      return s.items?.enum ? [...new Set(items)] : items;
    }
    case 'integer':
    case 'number': {
      const lo = s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : (s.minimum ?? 0);
      const hi = Math.min(
        s.maximum ?? lo + 100_000,
        s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - 1 : Infinity,
        lo + 1_000_000,
      );
      if (r.chance(0.1)) {
        // The edges the schema still allows: its bounds, and for a number the tiniest magnitudes (subnormals) inside them.
        const inRange = (v: number) =>
          (s.minimum === undefined || v >= s.minimum) &&
          (s.exclusiveMinimum === undefined || v > s.exclusiveMinimum) &&
          (s.maximum === undefined || v <= s.maximum) &&
          (s.exclusiveMaximum === undefined || v < s.exclusiveMaximum);
        const edges = [
          s.minimum,
          s.maximum,
          ...(type === 'number' ? [5e-324, -5e-324, 1e-310, 2.2250738585072014e-308, 0.1 + 0.2, -0] : [0, 1]),
        ].filter((v): v is number => v !== undefined && inRange(v));
        if (edges.length) return r.pick(edges);
      }
      const v = lo + r.float() * (hi - lo);
      return type === 'integer' ? Math.round(Math.min(hi, Math.max(lo, v))) : Math.round(v * 1000) / 1000;
    }
    case 'boolean':
      return r.chance(0.5);
    case 'string': {
      if (s.format === 'uuid') return r.uuid();
      if (s.format === 'date-time') return new Date(Date.now() + r.int(1, 3) * DAY + r.int(0, 3_600_000)).toISOString();
      if (s.format === 'email') return `fuzz-${r.hex(8)}@example.com`;
      if (s.format === 'uri') return `https://example.com/pod/${r.hex(6)}.pdf`;
      const p = s.pattern && PATTERNS.find(([re]) => re.test(s.pattern!));
      if (p) return p[1](r);
      const word = r.pick(['steel', 'Rebar grade 60', 'gravel', 'J. Foreman', 'fuzz']);
      return word.slice(0, Math.max(s.maxLength ?? 200, s.minLength ?? 1)).padEnd(s.minLength ?? 1, 'x');
    }
    default:
      return r.pick([{}, 'x', 1, true]);
  }
}

/** Text for a path segment or query value that no route should accept, as it goes on the wire. */
export function junkText(r: Rng): string {
  return r.pick([
    'not-a-uuid',
    '',
    '%00',
    'a%00b',
    '%ff',
    '%E0%A4%A',
    '%',
    '%zz',
    '..%2F..',
    '..',
    '%2e%2e',
    'a%2Fb',
    '%20',
    '%ED%A0%80',
    '%C0%AE',
    'x'.repeat(300),
    encodeURIComponent('ünïcødé ✓ 😀 מִשְׁלוֹחַ'),
    '0',
    '-1',
    '1e309',
    'NaN',
    'Infinity',
    '9'.repeat(25),
    '00000000-0000-0000-0000-000000000000',
    'ffffffff-ffff-ffff-ffff-ffffffffffff',
    r.uuid().toUpperCase(),
    `%7B${r.uuid()}%7D`,
    r.uuid().replace(/-/g, ''),
    `${r.uuid()}%00`,
    `${r.uuid()}x`,
    '__proto__',
    'constructor',
    'null',
    'true',
    '%5B%5D',
  ]);
}

/** Query values the parameter's schema refuses (or that sit at its edges). */
export function junkQueryValue(r: Rng): string {
  return r.pick([
    junkText(r),
    '1e309',
    '-1e309',
    'NaN',
    '-1',
    '-0',
    '0x10',
    '1.5',
    '%201',
    String(2 ** 53 + 1),
    '9'.repeat(400),
    'x'.repeat(2000),
    '2024-02-30T00:00:00Z',
    '9999-12-31T23:59:59.999Z',
    '0000-01-01T00:00:00Z',
    '%2B275760-09-13T00:00:00.000Z',
    '-271821-04-20T00:00:00Z',
    '1/2/3',
    '99999999999999999999/99999999999999999999',
    '5e-324',
    '-1e-320',
    '2.2250738585072014e-308',
    '18446744073709551616/0',
    '0/-1',
    ',,,',
    'TX,,OK',
    'true,false',
  ]);
}

/** A JSON value of some other type than expected. */
export function wrongValue(r: Rng): unknown {
  return r.pick<unknown>([
    null,
    true,
    false,
    0,
    -1,
    -0,
    1.5,
    1e308,
    -1e308,
    2 ** 53 + 1,
    '',
    'x',
    'ünï😀',
    [],
    [1, 'a', null],
    {},
    { a: { b: 1 } },
    '1',
    'true',
    'null',
    ' ',
  ]);
}

// ---------------------------------------------------------------------------------------------
// Bodies: a valid one, mutated.

type Path = (string | number)[];

/** Every place in a JSON value (the root is []), with the schema that describes it when known. */
function places(
  value: unknown,
  schema: Schema | undefined,
  path: Path = [],
  out: { path: Path; value: unknown; schema?: Schema }[] = [],
) {
  out.push({ path, value, ...(schema ? { schema } : {}) });
  if (Array.isArray(value)) value.forEach((v, i) => places(v, schema?.items, [...path, i], out));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value))
      places(
        v,
        schema?.properties?.[k] ?? schema?.anyOf?.find((s) => s.properties?.[k])?.properties?.[k],
        [...path, k],
        out,
      );
  }
  return out;
}

function setAt(root: unknown, path: Path, v: unknown): unknown {
  if (path.length === 0) return v;
  let o = root as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  o[path[path.length - 1]!] = v;
  return root;
}

function deleteAt(root: unknown, path: Path): void {
  let o = root as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (Array.isArray(o)) o.splice(Number(last), 1);
  else delete o[last];
}

const STRANGE_STRINGS = [
  '',
  ' ',
  '\t\n',
  'ünïcødé ✓ 😀',
  'e\u0301\u0301\u0301',
  '\u202eevil',
  '\ufeffbom',
  '<script>alert(1)</script>',
  "'; DROP TABLE loads; --",
  '${jndi:x}',
  '%00',
  '\\u0000',
  '\u2028\u2029',
  '𝕏'.repeat(100),
];
const STRANGE_DATES = [
  '2024-02-30T00:00:00Z',
  '+275760-09-13T00:00:00.000Z',
  '-271821-04-20T00:00:00.000Z',
  '1970-01-01T00:00:00Z',
  '0001-01-01T00:00:00Z',
  '2099-01-01T00:00:00+14:00',
  '2024-01-01T00:00:00',
  '2024-01-01',
  '9999-12-31T23:59:59.999999999Z',
  'yesterday',
];
const RAW_NUMBERS = [
  '1e400',
  '-1e400',
  '1e308',
  '-0',
  '9007199254740993',
  '0.1e-400',
  '5e-324',
  '1.0',
  '100.0000000000000001',
  '-9223372036854775809',
  '123456789012345678901234567890',
];

/**
 * A body as text: the valid one, with 1 to 3 mutations of the kinds the brief names (dropped and
 * mistyped fields, nulls, huge, NUL and lone-surrogate strings and keys, deep and wide values,
 * extra and prototype keys, odd numbers and dates, the wrong kind of body). `notes` say which.
 */
export function mutateBody(
  r: Rng,
  valid: unknown,
  schema: Schema | undefined,
  maxBytes: number,
): { text: string; notes: string[] } {
  let value = structuredClone(valid);
  const notes: string[] = [];
  const raws = new Map<string, string>();
  const raw = (text: string) => {
    const key = `\u0001RAW${raws.size}\u0001`;
    raws.set(JSON.stringify(key), text);
    return key;
  };
  const member = (obj: unknown, name: string, text: string) => {
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return false;
    const key = `\u0001RAW${raws.size}\u0001`;
    raws.set(`${JSON.stringify(key)}:${JSON.stringify(key)}`, `${JSON.stringify(name)}:${text}`);
    (obj as Record<string, unknown>)[key] = key;
    return true;
  };
  const n = r.int(1, r.chance(0.2) ? 3 : 1);
  for (let m = 0; m < n; m++) {
    const all = places(value, schema);
    const at = r.pick(all);
    const inner = all.filter((p) => p.path.length > 0);
    const leaf = inner.length ? r.pick(inner) : at;
    const kind = r.int(0, 16);
    switch (kind) {
      case 0: {
        const required = all
          .filter((p) => p.schema?.required?.length && p.value && typeof p.value === 'object')
          .flatMap((p) => p.schema!.required!.map((k) => [...p.path, k]));
        const path = required.length ? r.pick(required) : leaf.path;
        if (path.length) deleteAt(value, path);
        notes.push(`drop ${path.join('.')}`);
        break;
      }
      case 1: {
        const w = wrongValue(r);
        value = setAt(value, leaf.path, w);
        notes.push(`${leaf.path.join('.')}=${JSON.stringify(w)}`);
        break;
      }
      case 2:
        value = setAt(value, leaf.path, null);
        notes.push(`${leaf.path.join('.')}=null`);
        break;
      case 3: {
        const len = r.pick([
          maxBytes - 600,
          maxBytes - 100,
          maxBytes + 10,
          70_000,
          300_000,
          (leaf.schema?.maxLength ?? 200) + 1,
        ]);
        value = setAt(value, leaf.path, 'x'.repeat(Math.max(1, len)));
        notes.push(`${leaf.path.join('.')}=<${len} chars>`);
        break;
      }
      case 4:
        value = setAt(value, leaf.path, r.pick(['a\u0000b', '\u0000', '\ud800', 'a\udc00', '\udbff\udbff', 'x\ud83d']));
        notes.push(`${leaf.path.join('.')}=<NUL or lone surrogate>`);
        break;
      case 5: {
        const target = all.filter((p) => p.value && typeof p.value === 'object' && !Array.isArray(p.value));
        const obj = target.length ? r.pick(target) : at;
        if (!member(obj.value, r.pick(['a\u0000b', '\ud800', 'k\udfff', '\u0000']), '1'))
          value = { ['a\u0000b']: value };
        notes.push(`key with NUL or lone surrogate at ${obj.path.join('.')}`);
        break;
      }
      case 6: {
        const depth = r.pick([17, 100, 5_000, 20_000]);
        value = setAt(
          value,
          leaf.path,
          raw(r.chance(0.5) ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)),
        );
        notes.push(`${leaf.path.join('.')}=<nested ${depth} deep>`);
        break;
      }
      case 7: {
        const count = r.pick([19_999, 20_001, 25_000]);
        value = setAt(value, leaf.path, raw(`[${'0,'.repeat(count - 1)}0]`));
        notes.push(`${leaf.path.join('.')}=<${count} items>`);
        break;
      }
      case 8: {
        const target = all.filter((p) => p.value && typeof p.value === 'object' && !Array.isArray(p.value));
        const obj = (target.length ? r.pick(target) : at).value;
        const [name, text] = r.pick([
          ['__proto__', '{"polluted":true,"roles":["admin"]}'],
          ['constructor', '{"prototype":{"polluted":true}}'],
          ['prototype', '{"polluted":true}'],
          ['extra', '"field"'],
          ['isAdmin', 'true'],
          ['actor', '{"userId":"x","roles":["admin"]}'],
          ['metadata', '{"now":"1970-01-01T00:00:00Z"}'],
        ] as const);
        member(obj, name, text);
        notes.push(`extra ${name}`);
        break;
      }
      case 9: {
        const w = r.pick<unknown>([[], [value], 'a string', 42, true, null, {}, [[[]]]]);
        value = w;
        notes.push(`body=${JSON.stringify(w).slice(0, 40)}`);
        break;
      }
      case 10: {
        const nums = all.filter((p) => typeof p.value === 'number');
        const p = nums.length ? r.pick(nums) : leaf;
        const text = r.pick(RAW_NUMBERS);
        value = setAt(value, p.path, raw(text));
        notes.push(`${p.path.join('.')}=${text}`);
        break;
      }
      case 11: {
        const strs = all.filter((p) => typeof p.value === 'string');
        const p = strs.length ? r.pick(strs) : leaf;
        const s = p.schema?.format === 'date-time' || r.chance(0.3) ? r.pick(STRANGE_DATES) : r.pick(STRANGE_STRINGS);
        value = setAt(value, p.path, s);
        notes.push(`${p.path.join('.')}=${JSON.stringify(s).slice(0, 30)}`);
        break;
      }
      case 12: {
        const keys = value && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value) : [];
        if (keys.length) {
          const k = r.pick(keys);
          member(value, k, JSON.stringify(wrongValue(r)) ?? 'null');
          notes.push(`duplicate key ${k}`);
        }
        break;
      }
      case 13: {
        const arrays = all.filter((p) => Array.isArray(p.value) && (p.value as unknown[]).length);
        if (arrays.length) {
          const p = r.pick(arrays);
          const items = p.value as unknown[];
          const count = r.pick([0, 501, 2_000]);
          value = setAt(
            value,
            p.path,
            Array.from({ length: count }, (_, i) => items[i % items.length]),
          );
          notes.push(`${p.path.join('.')}=<${count} copies>`);
        }
        break;
      }
      case 14: {
        // A string where a number or id is expected, and the reverse: coercion is where parsers differ.
        const v = leaf.value;
        const w =
          typeof v === 'number'
            ? String(v)
            : typeof v === 'string' && v !== '' && !Number.isNaN(Number(v))
              ? Number(v)
              : typeof v === 'boolean'
                ? String(v)
                : [v];
        value = setAt(value, leaf.path, w);
        notes.push(`${leaf.path.join('.')} as ${Array.isArray(w) ? 'array' : typeof w}`);
        break;
      }
      case 15: {
        const enums = all.filter((p) => p.schema?.enum);
        const p = enums.length ? r.pick(enums) : leaf;
        const s = r.pick(['FLATBED', 'flatbed ', 'unknown', '', 'posted', 'admin']);
        value = setAt(value, p.path, s);
        notes.push(`${p.path.join('.')}=${JSON.stringify(s)}`);
        break;
      }
      default:
        notes.push('valid');
    }
  }
  let text = JSON.stringify(value) ?? 'null';
  for (const [k, v] of raws) text = text.split(k).join(v);
  return { text, notes };
}

/** Bodies that are not JSON, or not what their content type says, with the type sent. */
export function strangeBody(
  r: Rng,
  validText: string,
): { body: Buffer; contentType: string | undefined; note: string } {
  const half = validText.slice(0, Math.max(1, Math.floor(validText.length / 2)));
  const choices: [string, string | undefined, string | Buffer][] = [
    ['form', 'application/x-www-form-urlencoded', 'a=1&b=2'],
    ['text', 'text/plain', validText],
    [
      'multipart',
      'multipart/form-data; boundary=XyZ',
      `--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n${validText}\r\n--XyZ--\r\n`,
    ],
    ['xml', 'application/xml', '<?xml version="1.0"?><load><rateCents>1</rateCents></load>'],
    ['octets', 'application/octet-stream', Buffer.from([0, 1, 2, 0xff, 0xfe])],
    ['latin1 json', 'application/json; charset=latin1', validText],
    ['utf-16 json', 'application/json; charset=utf-16', Buffer.from(`\ufeff${validText}`, 'utf16le')],
    ['no type', undefined, validText],
    ['empty type', '', validText],
    ['junk type', ';;;/', validText],
    ['json utf-8', 'application/json; charset=UTF-8', validText],
    ['vendor json', 'application/vnd.api+json', validText],
    ['problem json', 'application/problem+json', validText],
    [
      'invalid utf-8',
      'application/json',
      Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xc3, 0x28, 0xff, 0xed, 0xa0, 0x80]), Buffer.from('"}')]),
    ],
    ['bom', 'application/json', `\ufeff${validText}`],
    ['empty json', 'application/json', ''],
    ['whitespace', 'application/json', ' \r\n\t '],
    ['[]', 'application/json', '[]'],
    ['null', 'application/json', 'null'],
    ['"string"', 'application/json', '"a string"'],
    ['truncated', 'application/json', half],
    ['trailing garbage', 'application/json', `${validText}}`],
    ['two documents', 'application/json', `${validText}\n${validText}`],
    ['nan', 'application/json', '{"a":NaN}'],
    ['single quotes', 'application/json', "{'a':1}"],
    ['comment', 'application/json', '{/* x */"a":1}'],
  ];
  const [note, contentType, body] = r.pick(choices);
  return { body: typeof body === 'string' ? Buffer.from(body, 'utf8') : body, contentType, note };
}
