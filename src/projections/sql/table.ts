import type { Knex } from 'knex';
import type { TableNames } from '../types.js';
import type { Column, ColumnType } from './rows.js';

/** Postgres types a read-model column may have: the row writer's, and those only knex's inserts write. */
export type SqlType = ColumnType | 'int2' | 'text[]';

interface ColumnOptions {
  readonly nullable: boolean;
  readonly primary: boolean;
  readonly index: boolean;
  /** numeric(precision, scale) */
  readonly precision?: readonly [number, number];
}

/**
 * One column: its Postgres type and constraints, and (`T`, never present at run time) the type
 * its value has in code, so the row type is read off the same definition as the DDL.
 */
export class ColumnDef<T, N extends boolean = false, S extends SqlType = SqlType> {
  declare readonly value: T;
  declare readonly isNull: N;
  constructor(
    readonly type: S,
    readonly options: ColumnOptions = { nullable: false, primary: false, index: false },
  ) {}

  /** May hold null (the row type says `T | null`). */
  nullable(): ColumnDef<T, true, S> {
    return new ColumnDef(this.type, { ...this.options, nullable: true });
  }

  /** The table's primary key on its own; a key of several columns is `defineTable`'s `primary`. */
  primary(): ColumnDef<T, N, S> {
    return new ColumnDef(this.type, { ...this.options, primary: true });
  }

  /** A b-tree index on this column alone (knex names it `<table>_<column>_index`). */
  index(): ColumnDef<T, N, S> {
    return new ColumnDef(this.type, { ...this.options, index: true });
  }
}

/**
 * A column Postgres computes from the others (`generated always as (…) stored`). Nobody writes it,
 * so it is in neither the row type nor the writer's list; queries name it in SQL.
 */
export class GeneratedColumn {
  constructor(
    readonly sqlType: string,
    readonly expression: string,
  ) {}
}

/**
 * The column types, each with the type its value has in code. int8 is a string by default: pg
 * returns bigint as text, and revisions and positions must not pass through a JS number.
 */
export const col = {
  uuid: () => new ColumnDef<string, false, 'uuid'>('uuid'),
  text: <T extends string = string>() => new ColumnDef<T, false, 'text'>('text'),
  int2: () => new ColumnDef<number, false, 'int2'>('int2'),
  int4: () => new ColumnDef<number, false, 'int4'>('int4'),
  /** Money in cents may be written as a number (`int8<number>()`); revisions and positions stay strings. */
  int8: <T extends string | number = string>() => new ColumnDef<T, false, 'int8'>('int8'),
  float8: () => new ColumnDef<number, false, 'float8'>('float8'),
  bool: () => new ColumnDef<boolean, false, 'bool'>('bool'),
  timestamptz: () => new ColumnDef<Date, false, 'timestamptz'>('timestamptz'),
  /** numeric(precision, scale), read and written as text (global positions exceed 2^53). */
  numeric: (precision: number, scale: number) =>
    new ColumnDef<string, false, 'numeric'>('numeric', {
      nullable: false,
      primary: false,
      index: false,
      precision: [precision, scale],
    }),
  textArray: <T extends string = string>() => new ColumnDef<T[], false, 'text[]'>('text[]'),
  generated: (sqlType: string, expression: string) => new GeneratedColumn(sqlType, expression),
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any column, whatever its value type
type AnyColumn = ColumnDef<any, boolean, SqlType>;
export type TableSpec = Readonly<Record<string, AnyColumn | GeneratedColumn>>;

/** The row a table's definition describes: each stored column's value type, `| null` where nullable. */
export type RowOf<S extends TableSpec> = {
  -readonly [K in keyof S as S[K] extends GeneratedColumn ? never : K]: S[K] extends ColumnDef<
    infer T,
    infer N,
    SqlType
  >
    ? N extends true
      ? T | null
      : T
    : never;
};

/** The writer's column list, where every stored column's type is one the writer can send (else `never`). */
type WriterColumns<S extends TableSpec> =
  Exclude<S[keyof S], GeneratedColumn> extends ColumnDef<unknown, boolean, ColumnType>
    ? readonly Column<RowOf<S>>[]
    : never;

export interface TableDef<S extends TableSpec> {
  /** The logical name (a generation's table is `t(name)`). */
  readonly name: string;
  readonly spec: S;
  /** The columns in table order, as `upsertRows` and `copyRows` send them. */
  readonly columns: WriterColumns<S>;
  /** Creates this generation's table; `more` adds what is not a column (an index over several columns). */
  create(trx: Knex.Transaction, t: TableNames, more?: (table: Knex.CreateTableBuilder) => void): Promise<void>;
}

/** The knex call that makes each type's column (knex's names: `double` is float8, `decimal` numeric). */
const MAKE: {
  readonly [K in SqlType]: (table: Knex.CreateTableBuilder, name: string, c: AnyColumn) => Knex.ColumnBuilder;
} = {
  uuid: (t, n) => t.uuid(n),
  text: (t, n) => t.text(n),
  int2: (t, n) => t.smallint(n),
  int4: (t, n) => t.integer(n),
  int8: (t, n) => t.bigInteger(n),
  float8: (t, n) => t.double(n),
  bool: (t, n) => t.boolean(n),
  timestamptz: (t, n) => t.timestamp(n, { useTz: true }),
  numeric: (t, n, c) => t.decimal(n, c.options.precision?.[0], c.options.precision?.[1]),
  'text[]': (t, n) => t.specificType(n, 'text[]'),
};

function addColumn(table: Knex.CreateTableBuilder, name: string, c: AnyColumn | GeneratedColumn): void {
  if (c instanceof GeneratedColumn) {
    table.specificType(name, `${c.sqlType} generated always as (${c.expression}) stored`);
    return;
  }
  const b = MAKE[c.type](table, name, c);
  // A primary key is not null by definition; the key constraint says so, as the tables always have.
  if (c.options.primary) b.primary();
  else if (!c.options.nullable) b.notNullable();
  if (c.options.index) b.index();
}

/**
 * States a read-model table once: `defineTable('load_board', { load_id: col.uuid().primary(), ... })`
 * gives the row type (`RowOf<typeof X.spec>`), the writer's column list and the CREATE TABLE, all
 * in the definition's column order. `primary` names a key of several columns.
 */
export function defineTable<S extends TableSpec>(
  name: string,
  spec: S,
  opts: { primary?: readonly (keyof S & string)[] } = {},
): TableDef<S> {
  const columns = Object.entries(spec).flatMap(([n, c]) =>
    c instanceof GeneratedColumn ? [] : [{ name: n, type: c.type }],
  );
  return {
    name,
    spec,
    columns: columns as unknown as WriterColumns<S>,
    async create(trx, t, more) {
      await trx.schema.createTable(t(name), (table) => {
        for (const [n, c] of Object.entries(spec)) addColumn(table, n, c);
        if (opts.primary) table.primary([...opts.primary]);
        more?.(table);
      });
    },
  };
}
