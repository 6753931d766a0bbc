import pg from 'pg';

const TIMESTAMPTZ_OID = 1184;
/** pg's own parser (postgres-date), for whatever the fast path does not read. */
const general = pg.types.getTypeParser(TIMESTAMPTZ_OID, 'text') as (text: string) => Date | number | null;

const digit = (s: string, i: number) => {
  const d = s.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : NaN;
};
const two = (s: string, i: number) => digit(s, i) * 10 + digit(s, i + 1);

/**
 * A `timestamptz` as Postgres writes it under DateStyle ISO (`2026-12-03 19:55:02.123456+00`, an
 * offset of `+HH` or `+HH:MM`), read without regular expressions: postgres-date's were 6% of a
 * board read's CPU. Anything else (another DateStyle, BC, infinity, years before 1000, offsets with
 * seconds) goes to pg's parser, and both give the same Date (`test/unit/timestamps.unit.test.ts`).
 */
export function parseTimestamptz(s: string): Date | number | null {
  if (s.length < 22 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 32) return general(s);
  const year = two(s, 0) * 100 + two(s, 2);
  const month = two(s, 5) - 1;
  const day = two(s, 8);
  const hour = two(s, 11);
  const minute = two(s, 14);
  const second = two(s, 17);
  if (s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58 || !(year >= 1000)) return general(s);
  let i = 19;
  let ms = 0;
  if (s.charCodeAt(i) === 46) {
    // As postgres-date: 1000 × the fraction (microseconds become a fraction of a millisecond, which Date.UTC drops).
    let end = i + 1;
    while (end < s.length && digit(s, end) >= 0) end++;
    ms = 1000 * Number(s.slice(i, end));
    i = end;
  }
  const sign = s.charCodeAt(i);
  if (sign !== 43 && sign !== 45) return general(s);
  let offset = two(s, i + 1) * 60;
  if (s.length === i + 6 && s.charCodeAt(i + 3) === 58) offset += two(s, i + 4);
  else if (s.length !== i + 3) return general(s);
  const t = Date.UTC(year, month, day, hour, minute, second, ms) - (sign === 43 ? 1 : -1) * offset * 60_000;
  return Number.isNaN(t) ? general(s) : new Date(t);
}

/** Every pg client of this process reads `timestamptz` with `parseTimestamptz`. */
export function useFastTimestamps(): void {
  pg.types.setTypeParser(TIMESTAMPTZ_OID, parseTimestamptz);
}
