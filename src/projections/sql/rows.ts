import type { Knex } from 'knex';

/** Postgres types a projection column may have (the array parameter is cast to `<type>[]`). */
export type ColumnType = 'uuid' | 'text' | 'int4' | 'int8' | 'float8' | 'bool' | 'timestamptz' | 'numeric';

export interface Column<R> {
  readonly name: keyof R & string;
  readonly type: ColumnType;
}

/**
 * Declares a table's columns once, in order: `columns<Row>({ load_id: 'uuid', ... })`. Every
 * field of the row type must be named, so a field added to the row is a compile error until it
 * has a column type.
 */
export function columns<R>(spec: { readonly [K in keyof R & string]-?: ColumnType }): readonly Column<R>[] {
  return Object.entries(spec).map(([name, type]) => ({ name: name as keyof R & string, type: type as ColumnType }));
}

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

const QUOTE_OR_BACKSLASH = /["\\]/;
const QUOTES_AND_BACKSLASHES = /["\\]/g;

/** One element of an array literal, by the column's type (text is quoted; the others never need it). */
function element(type: ColumnType, v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  switch (type) {
    case 'text': {
      const s = String(v);
      return QUOTE_OR_BACKSLASH.test(s) ? `"${s.replace(QUOTES_AND_BACKSLASHES, '\\$&')}"` : `"${s}"`;
    }
    case 'timestamptz':
      return v instanceof Date ? v.toISOString() : String(v);
    case 'bool':
      return v ? 't' : 'f';
    case 'int4':
    case 'float8':
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`not a finite number: ${String(v)}`);
      return String(v);
    default:
      return String(v);
  }
}

/**
 * One column's values as a Postgres array literal (`{a,"b c",NULL}`), built here rather than by
 * pg from a JS array (its per-element prepare and escape were 7% of a rebuild's time), and sent
 * as one text parameter.
 */
function arrayLiteral<R>(col: Column<R>, rows: readonly R[]): string {
  let out = '{';
  for (let i = 0; i < rows.length; i++) {
    if (i > 0) out += ',';
    out += element(col.type, rows[i]![col.name]);
  }
  return `${out}}`;
}

export interface UpsertOptions<R> {
  /** The conflict target (the primary key). */
  key: readonly (keyof R & string)[];
  /** On conflict: leave the stored row ('ignore') or overwrite it ('update', the non-key columns, or `update` when given). */
  onConflict: 'ignore' | 'update';
  /** The columns an update writes (default: every non-key column). */
  update?: readonly (keyof R & string)[];
  /** Overwrite only where the stored row's `column` is `op` the new row's: revision guards make replays change nothing. */
  guard?: { column: keyof R & string; op: '<' | '<=' };
}

/**
 * Writes rows in one statement whatever their number: each column travels as one array parameter
 * and `unnest` turns them back into rows (`insert … select * from unnest($1::uuid[], …) on
 * conflict …`). A multi-row VALUES list through the query builder costs a parameter per cell, and
 * building and numbering those was most of a rebuild's client time (profiled: knex's
 * positionBindings alone 10%); here the statement text is the same for every batch.
 */
export async function upsertRows<R>(
  db: Knex | Knex.Transaction,
  table: string,
  cols: readonly Column<R>[],
  rows: readonly R[],
  opts: UpsertOptions<R>,
): Promise<number> {
  if (rows.length === 0) return 0;
  const arrays = cols.map((c) => arrayLiteral(c, rows));
  const names = cols.map((c) => ident(c.name)).join(', ');
  const unnest = cols.map((c) => `?::${c.type}[]`).join(', ');
  let conflict = `on conflict (${opts.key.map(ident).join(', ')}) do nothing`;
  if (opts.onConflict === 'update') {
    const keys = new Set<string>(opts.key);
    const set = (opts.update ?? cols.map((c) => c.name).filter((n) => !keys.has(n)))
      .map((n) => `${ident(n)} = excluded.${ident(n)}`)
      .join(', ');
    const guard = opts.guard
      ? ` where ${ident(table)}.${ident(opts.guard.column)} ${opts.guard.op} excluded.${ident(opts.guard.column)}`
      : '';
    conflict = `on conflict (${opts.key.map(ident).join(', ')}) do update set ${set}${guard}`;
  }
  const res = (await db.raw(
    `insert into ${ident(table)} (${names}) select * from unnest(${unnest}) ${conflict}`,
    arrays,
  )) as { rowCount?: number };
  return res.rowCount ?? 0;
}
