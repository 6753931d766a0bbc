import { expect } from 'chai';
import { createKnex, type Knex } from '../../src/infra/db.js';
import { copyRows } from '../../src/projections/sql/copy.js';
import { columns, upsertRows } from '../../src/projections/sql/rows.js';
import { freshDatabase } from '../support/services.js';

interface Row {
  id: string;
  revision: bigint;
  name: string | null;
  n: number | null;
  x: number;
  ok: boolean;
  at: Date | null;
  pos: string;
}

const COLS = columns<Row>({
  id: 'uuid',
  revision: 'int8',
  name: 'text',
  n: 'int4',
  x: 'float8',
  ok: 'bool',
  at: 'timestamptz',
  pos: 'numeric',
});
const id = (k: number) => `00000000-0000-4000-8000-${k.toString().padStart(12, '0')}`;

describe('Writing projection rows in bulk (upsertRows, copyRows)', () => {
  let knex: Knex;
  before(async () => {
    knex = createKnex(await freshDatabase('upsert_rows'), 2);
    await knex.raw(
      `create table t (id uuid primary key, revision bigint not null, name text, n int, x float8 not null, ok boolean not null, at timestamptz, pos numeric(20, 0) not null)`,
    );
  });
  after(() => knex.destroy());
  beforeEach(() => knex.raw('truncate t'));

  const read = async () =>
    (await knex('t').orderBy('id').select('*')).map((r: Record<string, unknown>) => ({
      ...r,
      revision: BigInt(r.revision as string),
    })) as Row[];

  const nasty = [
    'a"b',
    'back\\slash',
    '{x,y}',
    'NULL',
    'null',
    '\\N',
    '',
    ' spaced ',
    'line\nbreak',
    'tab\there',
    'cr\r\n',
    'émoji 🚚',
    "it's",
    '\\"',
  ];
  const nastyRows = (): Row[] => {
    const rows: Row[] = nasty.map((name, k) => ({
      id: id(k),
      revision: k === 0 ? 9_223_372_036_854_775_807n : BigInt(k),
      name,
      n: k === 1 ? null : k === 2 ? -2_147_483_648 : k,
      x: k === 3 ? -1.5e-300 : k * 0.1,
      ok: k % 2 === 0,
      at: k === 4 ? null : new Date(Date.UTC(2026, 0, 1, 0, 0, 0, k)),
      pos: (10n ** 19n + BigInt(k)).toString(),
    }));
    rows.push({ id: id(99), revision: 1n, name: null, n: null, x: 0, ok: false, at: null, pos: '0' });
    return rows;
  };

  it('upserts every value as given: quotes, backslashes, braces, commas, tabs, NULL-looking text, nulls, extremes', async () => {
    const rows = nastyRows();
    expect(await upsertRows(knex, 't', COLS, rows, { key: ['id'], onConflict: 'ignore' })).to.equal(rows.length);
    expect(await read()).to.deep.equal(rows);
  });

  it('bulk-loads the same values unchanged with COPY, and fails the whole load on a duplicate key', async () => {
    const rows = nastyRows();
    for (const chunkBytes of [undefined, 5, 13]) {
      await knex.raw('truncate t');
      expect(await knex.transaction((trx) => copyRows(trx, 't', COLS, rows, { chunkBytes }))).to.equal(rows.length);
      expect(await read()).to.deep.equal(rows);
    }
    let err: unknown;
    await knex
      .transaction((trx) => copyRows(trx, 't', COLS, [{ ...rows[0]!, id: id(1234) }, rows[1]!]))
      .catch((e: unknown) => (err = e));
    expect(String(err)).to.match(/duplicate key/);
    expect(await read()).to.have.length(rows.length);
  });

  it('updates only rows whose stored revision is older, so a replay changes nothing', async () => {
    const v1: Row[] = [1, 2, 3].map((k) => ({
      id: id(k),
      revision: 1n,
      name: 'one',
      n: 1,
      x: 1,
      ok: true,
      at: null,
      pos: '1',
    }));
    await upsertRows(knex, 't', COLS, v1, {
      key: ['id'],
      onConflict: 'update',
      guard: { column: 'revision', op: '<' },
    });
    const mixed: Row[] = [
      { ...v1[0]!, revision: 2n, name: 'two' },
      { ...v1[1]!, revision: 1n, name: 'replayed' },
      { ...v1[2]!, revision: 0n, name: 'older' },
      { id: id(4), revision: 0n, name: 'new', n: null, x: 4, ok: false, at: null, pos: '4' },
    ];
    expect(
      await upsertRows(knex, 't', COLS, mixed, {
        key: ['id'],
        onConflict: 'update',
        guard: { column: 'revision', op: '<' },
      }),
    ).to.equal(2);
    expect((await read()).map((r) => [r.name, r.revision])).to.deep.equal([
      ['two', 2n],
      ['one', 1n],
      ['one', 1n],
      ['new', 0n],
    ]);
  });

  it('writes nothing for no rows, and refuses a number Postgres cannot store rather than storing something else', async () => {
    expect(await upsertRows(knex, 't', COLS, [], { key: ['id'], onConflict: 'ignore' })).to.equal(0);
    const bad: Row = { id: id(1), revision: 1n, name: 'x', n: 1, x: Number.NaN, ok: true, at: null, pos: '1' };
    let err: unknown;
    await upsertRows(knex, 't', COLS, [bad], { key: ['id'], onConflict: 'ignore' }).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(RangeError);
    expect(await read()).to.deep.equal([]);
  });

  it('bulk-loads exactly what the binary format must get right: old and far dates, any decimal, big and multi-byte text, int8 from a number', async () => {
    interface Wide {
      id: string;
      big: number | string;
      d: string;
      at: Date;
      s: string;
      x: number;
    }
    const WIDE = columns<Wide>({ id: 'uuid', big: 'int8', d: 'numeric', at: 'timestamptz', s: 'text', x: 'float8' });
    await knex.raw(
      'create table if not exists wide (id uuid primary key, big bigint not null, d numeric not null, at timestamptz not null, s text not null, x float8 not null)',
    );
    await knex.raw('truncate wide');
    const decimals = [
      '0',
      '-0',
      '1',
      '-1',
      '10000',
      '12345678901234567890',
      '0.5',
      '-0.0001',
      '1.23400',
      '99990000.00010000',
      '007',
    ];
    const dates = [
      new Date(Date.UTC(1999, 11, 31, 23, 59, 59, 999)),
      new Date(Date.UTC(2000, 0, 1)),
      new Date(Date.UTC(1969, 6, 20, 20, 17, 40, 1)),
      new Date('0001-01-01T00:00:00.000Z'),
      new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999)),
    ];
    const rows: Wide[] = Array.from({ length: 3_000 }, (_, k) => ({
      id: id(k).toUpperCase(),
      big: k % 2 ? -(2 ** 53 - 1) + k : (-(2n ** 63n) + BigInt(k)).toString(),
      d: decimals[k % decimals.length]!,
      at: dates[k % dates.length]!,
      // Rows of 500+ characters over several 1 MB chunks, multi-byte characters at every offset.
      s: `${'é'.repeat(k % 7)}${'x'.repeat(500)}🚚${k}`,
      x: k % 3 ? Number.MIN_VALUE * k : -Number.MAX_VALUE,
    }));
    // One value larger than a chunk.
    rows.push({ id: id(5_000), big: 0, d: '1', at: dates[0]!, s: 'ü'.repeat(1_500_000), x: 0 });
    // In 1 MB buffers, and in buffers so small that every kind of value straddles two.
    for (const chunkBytes of [undefined, 7, 61]) {
      await knex.raw('truncate wide');
      expect(await knex.transaction((trx) => copyRows(trx, 'wide', WIDE, rows, { chunkBytes }))).to.equal(rows.length);
      const { rows: stored } = await knex.raw<{ rows: Record<string, unknown>[] }>(
        'select id, big, d::text as d, at, s, x from wide order by id',
      );
      expect(stored, `chunks of ${chunkBytes ?? 'default'} bytes`).to.deep.equal(
        rows.map((r) => ({
          id: r.id.toLowerCase(),
          big: String(r.big),
          // numeric keeps the scale it is given; -0 is 0
          d: r.d === '-0' ? '0' : r.d === '007' ? '7' : r.d,
          at: r.at,
          s: r.s,
          x: r.x,
        })),
      );
    }
  });

  it('refuses a value COPY would store as something else, before sending anything', async () => {
    const ok = nastyRows()[0]!;
    for (const [k, bad] of [
      { ...ok, x: Number.POSITIVE_INFINITY },
      { ...ok, n: 1.5 },
      { ...ok, n: 2 ** 31 },
      { ...ok, id: 'not-a-uuid' },
      { ...ok, id: `${ok.id}0` },
      { ...ok, at: new Date(Number.NaN) },
      { ...ok, pos: '1e5' },
    ].entries()) {
      let err: unknown;
      await knex.transaction((trx) => copyRows(trx, 't', COLS, [bad])).catch((e: unknown) => (err = e));
      expect(err, `case ${k}`).to.be.instanceOf(RangeError);
    }
    expect(await read()).to.deep.equal([]);
  });
});
