import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Knex } from 'knex';
import type { ClientBase } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Column, ColumnType } from './rows.js';

/**
 * Rows in COPY's binary format, written straight into buffers: each field is its length (int32,
 * -1 for null) and its value in the type's binary form, big-endian. Nothing is printed as text for
 * the server to parse back: a timestamp is a count of microseconds, a float its eight bytes. The
 * text format had the client call toISOString ten times a row and print floats, then build, flatten
 * and encode 600 bytes of string per load-board row (a fifth of a rebuild's client CPU, besides
 * its garbage), and the server parse it all back. Filling the board from 108,315 events took the
 * client 6.3 s of CPU and the server 3.3 s that way, 5.4 s and 2.9 s in binary, before the row
 * loop below was compiled.
 */

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** COPY's binary file header: signature, flags, header extension length. */
const HEADER = Buffer.from('PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0', 'latin1');
/** Milliseconds from the Unix epoch to Postgres's (2000-01-01). */
const PG_EPOCH_MS = 946_684_800_000;
const TWO_32 = 2 ** 32;
/** Bytes each chunk handed to the connection starts with (grown for a field that needs more). */
const CHUNK_BYTES = 1 << 20;

/** Where rows are written: a buffer, handed on chunk by chunk as it fills. */
class Out {
  buf: Buffer;
  at = 0;
  readonly done: Buffer[] = [];

  constructor(readonly chunkBytes = CHUNK_BYTES) {
    this.buf = Buffer.allocUnsafe(chunkBytes);
  }

  /** Makes room for `n` more bytes. */
  room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    if (this.at > 0) this.done.push(this.buf.subarray(0, this.at));
    this.buf = Buffer.allocUnsafe(Math.max(this.chunkBytes, n));
    this.at = 0;
  }
}

/** By hand: Buffer's own writeInt32BE checks its arguments, and it ran for every field. */
function int32At(b: Buffer, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
}

/** Writes a null field when `v` is null or undefined; says whether it did. */
function isNull(o: Out, v: unknown): v is null | undefined {
  if (v !== null && v !== undefined) return false;
  o.room(4);
  int32At(o.buf, o.at, -1);
  o.at += 4;
  return true;
}

/**
 * A field of `len` bytes: its length, and room for its value; answers where in `o.buf` the value
 * goes. Read `o.buf` after calling it: making room may have moved on to a new buffer.
 */
function field(o: Out, len: number): number {
  o.room(4 + len);
  int32At(o.buf, o.at, len);
  const at = o.at + 4;
  o.at = at + len;
  return at;
}

function text(o: Out, v: unknown): void {
  if (isNull(o, v)) return;
  const s = typeof v === 'string' ? v : String(v);
  const n = s.length;
  // UTF-8 takes at most 3 bytes per UTF-16 unit; the length is filled in once written.
  o.room(4 + n * 3);
  const b = o.buf;
  let at = o.at + 4;
  let i = 0;
  // ASCII by hand, the rest through the encoder.
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) break;
    b[at++] = c;
  }
  if (i < n) at += b.write(s.slice(i), at, 'utf8');
  int32At(b, o.at, at - o.at - 4);
  o.at = at;
}

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[65 + i] = HEX[97 + i] = 10 + i;
const hexDigit = (c: number) => (c < 128 ? HEX[c]! : -1);

function uuid(o: Out, v: unknown): void {
  if (isNull(o, v)) return;
  const s = String(v);
  let at = field(o, 16);
  const b = o.buf;
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) === 45 /* - */) continue;
    const hi = hexDigit(s.charCodeAt(i));
    const lo = hexDigit(s.charCodeAt(++i));
    if (hi < 0 || lo < 0 || bytes === 16) throw new RangeError(`not a uuid: ${s}`);
    b[at++] = (hi << 4) | lo;
    bytes++;
  }
  if (bytes !== 16) throw new RangeError(`not a uuid: ${s}`);
}

function int4(o: Out, v: unknown): void {
  if (isNull(o, v)) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -2_147_483_648 || v > 2_147_483_647)
    throw new RangeError(`not an int4: ${String(v)}`);
  const at = field(o, 4);
  int32At(o.buf, at, v);
}

/** A whole number below 2^63 in magnitude as two int32 (high, then low unsigned). */
function int64At(b: Buffer, at: number, v: number): void {
  const hi = Math.floor(v / TWO_32);
  int32At(b, at, hi);
  int32At(b, at + 4, v - hi * TWO_32);
}

function int8(o: Out, v: unknown): void {
  if (isNull(o, v)) return;
  const at = field(o, 8);
  if (typeof v === 'number' && Number.isSafeInteger(v)) int64At(o.buf, at, v);
  else o.buf.writeBigInt64BE(typeof v === 'bigint' ? v : BigInt(v as string), at);
}

function float8(o: Out, v: unknown): void {
  if (isNull(o, v)) return;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`not a finite number: ${String(v)}`);
  const at = field(o, 8);
  o.buf.writeDoubleBE(v, at);
}

function bool(o: Out, v: unknown): void {
  if (isNull(o, v)) return;
  const at = field(o, 1);
  o.buf[at] = v ? 1 : 0;
}

function timestamptz(o: Out, v: unknown): void {
  if (isNull(o, v)) return;
  const ms = v instanceof Date ? v.getTime() : Number.NaN;
  if (!Number.isFinite(ms)) throw new RangeError(`not a valid Date: ${String(v)}`);
  // Microseconds since 2000: exact, as any Date's milliseconds times 1,000 stay below 2^53.
  const at = field(o, 8);
  int64At(o.buf, at, (ms - PG_EPOCH_MS) * 1000);
}

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;

/** numeric: digit count, weight, sign and scale, then base-10,000 digits, each as int16. */
function numeric(o: Out, v: unknown): void {
  if (isNull(o, v)) return;
  const m = DECIMAL.exec(String(v));
  if (!m) throw new RangeError(`not a decimal number: ${String(v)}`);
  const int = m[2]!.replace(/^0+/, '');
  const frac = m[3] ?? '';
  // Digits in groups of four either side of the point; zero groups at either end are not stored.
  const intDigits = int.padStart(Math.ceil(int.length / 4) * 4, '0');
  const all = intDigits + frac.padEnd(Math.ceil(frac.length / 4) * 4, '0');
  const groups: number[] = [];
  for (let i = 0; i < all.length; i += 4) groups.push(Number(all.slice(i, i + 4)));
  let weight = intDigits.length / 4 - 1;
  let first = 0;
  while (first < groups.length && groups[first] === 0) {
    first++;
    weight--;
  }
  let last = groups.length;
  while (last > first && groups[last - 1] === 0) last--;
  const n = last - first;
  let at = field(o, 8 + n * 2);
  const b = o.buf;
  const int16 = (x: number) => {
    b[at++] = x >>> 8;
    b[at++] = x;
  };
  int16(n);
  int16(n === 0 ? 0 : weight);
  int16(m[1] && n > 0 ? 0x4000 : 0);
  int16(frac.length);
  for (let g = first; g < last; g++) int16(groups[g]!);
}

const ENCODERS: Readonly<Record<ColumnType, (o: Out, v: unknown) => void>> = {
  uuid,
  text,
  int4,
  int8,
  float8,
  bool,
  timestamptz,
  numeric,
};

type WriteRows<R> = (o: Out, rows: readonly R[]) => void;
const compiled = new WeakMap<readonly Column<never>[], WriteRows<never>>();

/**
 * The loop that writes a table's rows, compiled once per column list: each column's value is read
 * by its own property access and handed to its type's encoder. A loop over the column list read
 * `row[name]` with a different key each time, which V8 cannot specialise.
 */
function rowWriter<R>(cols: readonly Column<R>[]): WriteRows<R> {
  const cached = compiled.get(cols as readonly Column<never>[]);
  if (cached) return cached as WriteRows<R>;
  const count = cols.length;
  const fields = cols.map((c, i) => `e${i}(o, r[${JSON.stringify(c.name)}]);`).join('\n');
  // Generated from the column names (JSON-quoted) and their encoders only.
  const make = new Function(
    ...cols.map((_, i) => `e${i}`),
    `return function writeRows(o, rows) {
       for (let k = 0; k < rows.length; k++) {
         const r = rows[k];
         o.room(2);
         o.buf[o.at] = ${count >> 8};
         o.buf[o.at + 1] = ${count & 0xff};
         o.at += 2;
         ${fields}
       }
     }`,
  ) as (...encoders: ((o: Out, v: unknown) => void)[]) => WriteRows<R>;
  const write = make(...cols.map((c) => ENCODERS[c.type]));
  compiled.set(cols as readonly Column<never>[], write as WriteRows<never>);
  return write;
}

/** Rows written per step; the chunks they fill go to the connection as they fill. */
const ROWS_PER_STEP = 500;

/**
 * Bulk-loads rows that cannot exist yet (no conflict handling: a duplicate key fails the
 * statement, and with it the batch). COPY costs the server about a third of an INSERT (LIMITS.md:
 * 127,000 rows/s against 48,000 through unnest), so a rebuild loads the rows it creates this way.
 * It runs on the transaction's own connection. Each column is sent in the binary form of its
 * declared type, which must be the table's (a mismatch fails the statement).
 */
export async function copyRows<R>(
  trx: Knex.Transaction,
  table: string,
  cols: readonly Column<R>[],
  rows: readonly R[],
  /** `chunkBytes`: the size of the buffers written (tests make it small, so values straddle them). */
  opts: { chunkBytes?: number } = {},
): Promise<number> {
  if (rows.length === 0) return 0;
  const write = rowWriter(cols);
  const conn = (await trx.client.acquireConnection()) as ClientBase;
  function* chunks() {
    const o = new Out(opts.chunkBytes);
    o.room(HEADER.length);
    o.at += HEADER.copy(o.buf, o.at);
    for (let i = 0; i < rows.length; i += ROWS_PER_STEP) {
      write(o, rows.slice(i, i + ROWS_PER_STEP));
      yield* o.done.splice(0);
    }
    o.room(2);
    o.buf[o.at++] = 0xff; // the trailer: a field count of -1
    o.buf[o.at++] = 0xff;
    yield* o.done.splice(0);
    yield o.buf.subarray(0, o.at);
  }
  const copy = conn.query(
    copyFrom(`copy ${ident(table)} (${cols.map((c) => ident(c.name)).join(', ')}) from stdin with (format binary)`),
  );
  await pipeline(Readable.from(chunks(), { objectMode: false }), copy);
  return Number(copy.rowCount);
}
