import { expect } from 'chai';
import fc from 'fast-check';
import pg from 'pg';
import { parseTimestamptz } from '../../src/infra/timestamps.js';

const general = pg.types.getTypeParser(1184, 'text') as (s: string) => Date | number | null;
const same = (s: string) => {
  const a = parseTimestamptz(s);
  const b = general(s);
  expect(a instanceof Date ? a.getTime() : a, s).to.deep.equal(b instanceof Date ? b.getTime() : b);
};

describe('parseTimestamptz', () => {
  it('reads what Postgres writes as pg does, fraction and offset included', () => {
    const pad = (n: number, w = 2) => String(n).padStart(w, '0');
    fc.assert(
      fc.property(
        fc.date({ min: new Date('1000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }),
        fc.integer({ min: 0, max: 999_999 }),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: -14 * 60, max: 14 * 60 }),
        fc.boolean(),
        (d, micros, digits, offsetMin, withMinutes) => {
          const off = withMinutes ? offsetMin : Math.trunc(offsetMin / 60) * 60;
          const local = new Date(d.getTime() + off * 60_000);
          const frac = digits ? `.${pad(micros, 6).slice(0, digits)}` : '';
          const abs = Math.abs(off);
          const zone = `${off < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}${withMinutes && abs % 60 ? `:${pad(abs % 60)}` : ''}`;
          same(
            `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())} ` +
              `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}${frac}${zone}`,
          );
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('leaves what it does not read to pg', () => {
    for (const s of [
      'infinity',
      '-infinity',
      '0099-01-01 00:00:00+00',
      '2020-01-01 00:00:00+00 BC',
      '2020-01-01 00:00:00+05:30:15',
      '2020-01-01 00:00:00Z',
      '2020-01-01',
      'Tue Dec 01 2020',
      '2020-13-45 25:61:61+00',
    ])
      same(s);
  });
});
