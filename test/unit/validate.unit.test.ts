import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { InvalidArgument, InvalidEvent } from '../../src/eventstore/errors.js';
import {
  validateAppend,
  validateCountEvents,
  validateExpectedRevision,
  validateFilter,
  validateReadAll,
  validateReadStream,
} from '../../src/eventstore/validate.js';

/** The InvalidArgument `f` throws, checked to name the option and show the value. */
function refusal(f: () => void, option: string, shown: string): InvalidArgument {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, `${option} ${shown}`).to.be.instanceOf(InvalidArgument);
  const e = err as InvalidArgument;
  expect(e.status).to.equal(400);
  expect(e.type).to.equal('urn:freight:problem:invalid-argument');
  expect(e.option).to.equal(option);
  expect(e.message).to.include(option).and.to.include(shown);
  return e;
}

describe('Validating an append', () => {
  const ok = { id: randomUUID(), type: 'LoadPosted', data: {} };
  it('accepts category-id streams and uuid ids', () => {
    expect(() => validateAppend(`load-${randomUUID()}`, [ok], 'any')).to.not.throw();
  });
  it('refuses what neither adapter can store alike', () => {
    const cases: [string, unknown[], unknown][] = [
      ['nocategory', [ok], 'any'],
      ['load-1', [], 'any'],
      ['load-1', [{ ...ok, id: 'not-a-uuid' }], 'any'],
      ['load-1', [ok, ok], 'any'],
      ['load-1', [{ ...ok, type: '$system' }], 'any'],
      ['load-1', [{ ...ok, data: undefined }], 'any'],
    ];
    for (const [s, evs, exp] of cases) {
      expect(() => validateAppend(s, evs as never, exp as never), `${s} ${String(exp)}`).to.throw(InvalidEvent);
    }
  });
  it('refuses an expected revision that is none, as an invalid argument rather than a conflict', () => {
    refusal(() => validateAppend('load-1', [ok], -1n), 'expectedRevision', '-1n');
  });
});

describe('Validating an expected revision', () => {
  it("accepts 'any', 'no_stream', 'stream_exists' and bigints from 0 to 2^63-1", () => {
    for (const x of ['any', 'no_stream', 'stream_exists', 0n, 7n, 2n ** 63n - 1n])
      expect(() => validateExpectedRevision(x)).to.not.throw();
  });
  it('refuses strings, numbers, negative and too large bigints, null', () => {
    const cases: [unknown, string][] = [
      ['foo', '"foo"'],
      [1.5, '1.5'],
      [1, '1'],
      [-1n, '-1n'],
      [2n ** 63n, '9223372036854775808n'],
      [null, 'null'],
    ];
    for (const [x, shown] of cases) refusal(() => validateExpectedRevision(x), 'expectedRevision', shown);
  });
});

describe('Validating read options', () => {
  it('accepts the defaults, a maxCount of 0, revisions and positions in range, empty filter lists', () => {
    expect(() => validateReadStream({})).to.not.throw();
    expect(() =>
      validateReadStream({ direction: 'backwards', fromRevision: 2n ** 63n - 1n, maxCount: 0 }),
    ).to.not.throw();
    expect(() => validateReadStream({ fromRevision: 'end' })).to.not.throw();
    expect(() => validateReadAll({})).to.not.throw();
    expect(() =>
      validateReadAll({
        fromPosition: { commit: 0n, prepare: 2n ** 63n - 1n },
        maxCount: 0,
        filter: { streamPrefixes: [], eventTypes: ['A'] },
      }),
    ).to.not.throw();
    expect(() => validateReadAll({ fromPosition: 'start', filter: { eventTypes: undefined } })).to.not.throw();
  });

  it('refuses a maxCount that is negative, fractional, not a number or unsafe', () => {
    const cases: [unknown, string][] = [
      [-1, '-1'],
      [1.5, '1.5'],
      [Number.NaN, 'NaN'],
      [Number.POSITIVE_INFINITY, 'Infinity'],
      ['10', '"10"'],
      [10n, '10n'],
      [2 ** 60, String(2 ** 60)],
    ];
    for (const [x, shown] of cases) {
      refusal(() => validateReadStream({ maxCount: x as number }), 'maxCount', shown);
      refusal(() => validateReadAll({ maxCount: x as number }), 'maxCount', shown);
    }
    refusal(() => validateCountEvents({ limit: -5 }), 'limit', '-5');
  });

  it('refuses a fromRevision out of range or of another kind', () => {
    const cases: [unknown, string][] = [
      [-1n, '-1n'],
      [2n ** 63n, '9223372036854775808n'],
      [5, '5'],
      ['first', '"first"'],
      [null, 'null'],
    ];
    for (const [x, shown] of cases)
      refusal(() => validateReadStream({ fromRevision: x as bigint }), 'fromRevision', shown);
  });

  it('refuses a position whose halves are not bigints in range', () => {
    refusal(() => validateReadAll({ fromPosition: { commit: -1n, prepare: 0n } }), 'fromPosition.commit', '-1n');
    refusal(
      () => validateReadAll({ fromPosition: { commit: 1n, prepare: 2n ** 63n } }),
      'fromPosition.prepare',
      '9223372036854775808n',
    );
    refusal(() => validateReadAll({ fromPosition: { commit: 1, prepare: 1 } as never }), 'fromPosition.commit', '1');
    refusal(() => validateReadAll({ fromPosition: 'middle' as never }), 'fromPosition', '"middle"');
    refusal(() => validateReadAll({ fromPosition: null as never }), 'fromPosition', 'null');
    refusal(() => validateCountEvents({ after: { commit: 1n } as never }), 'after.prepare', 'undefined');
  });

  it('refuses a direction that is neither forwards nor backwards', () => {
    refusal(() => validateReadStream({ direction: 'up' as never }), 'direction', '"up"');
    refusal(() => validateReadAll({ direction: 'BACKWARDS' as never }), 'direction', '"BACKWARDS"');
  });

  it('refuses filters that are not lists of non-empty strings', () => {
    refusal(() => validateFilter('load-'), 'filter', '"load-"');
    refusal(() => validateFilter({ streamPrefixes: 'load-' }), 'filter.streamPrefixes', '"load-"');
    refusal(() => validateFilter({ streamPrefixes: ['load-', ''] }), 'filter.streamPrefixes', '["load-", ""]');
    refusal(() => validateFilter({ eventTypes: [1] }), 'filter.eventTypes', '[1]');
    refusal(() => validateReadAll({ filter: { eventTypes: [null] } as never }), 'filter.eventTypes', '[null]');
  });

  it('refuses options that are not an object', () => {
    refusal(() => validateReadStream(null as never), 'options', 'null');
  });
});
