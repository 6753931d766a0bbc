import { z } from 'zod';

/** bigint in code, decimal text in JSON (events, HTTP): JSON numbers lose precision past 2^53. */
export const bigintText = z.codec(z.string().regex(/^-?\d{1,30}$/, 'must be an integer in decimal text'), z.bigint(), {
  decode: (s) => BigInt(s),
  encode: (b) => b.toString(),
});

/** Date in code, ISO-8601 text with offset in JSON. */
export const isoDateTime = z.codec(z.iso.datetime({ offset: true }), z.date(), {
  decode: (s) => new Date(s),
  encode: (d) => d.toISOString(),
});
