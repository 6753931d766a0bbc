import { expect } from 'chai';
import fc from 'fast-check';
import { v5 } from 'uuid';
import { uuidV5 } from '../../src/infra/uuid5.js';

describe('uuidV5', () => {
  it("gives uuid's v5 for any name and namespace", () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), fc.uuid(), (name, ns) => {
        expect(uuidV5(name, ns)).to.equal(v5(name, ns));
      }),
      { numRuns: 3_000 },
    );
    expect(uuidV5('', '6f1d2c3b-4a5e-4f60-9b8a-7c6d5e4f3a21')).to.equal(v5('', '6f1d2c3b-4a5e-4f60-9b8a-7c6d5e4f3a21'));
  });

  it('refuses a namespace that is not a UUID', () => {
    expect(() => uuidV5('x', 'not-a-uuid')).to.throw(TypeError);
  });
});
