import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { InvalidEvent } from '../../src/eventstore/errors.js';
import { validateAppend } from '../../src/eventstore/validate.js';

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
      ['load-1', [ok], -1n],
    ];
    for (const [s, evs, exp] of cases) {
      expect(() => validateAppend(s, evs as never, exp as never), `${s} ${String(exp)}`).to.throw(InvalidEvent);
    }
  });
});
