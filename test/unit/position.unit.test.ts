import { expect } from 'chai';
import { comparePositions, formatPosition, parsePosition } from '../../src/eventstore/position.js';

describe('Global positions', () => {
  it('compare lexicographically by commit, then prepare', () => {
    expect(comparePositions({ commit: 1n, prepare: 9n }, { commit: 2n, prepare: 0n })).to.equal(-1);
    expect(comparePositions({ commit: 2n, prepare: 1n }, { commit: 2n, prepare: 0n })).to.equal(1);
    expect(comparePositions({ commit: 2n, prepare: 1n }, { commit: 2n, prepare: 1n })).to.equal(0);
  });

  it('travel as "commit/prepare" text without losing 64-bit values', () => {
    const p = { commit: 18_446_744_073_709_551_615n, prepare: 2n ** 53n + 1n };
    expect(formatPosition(p)).to.equal('18446744073709551615/9007199254740993');
    expect(parsePosition(formatPosition(p))).to.deep.equal(p);
  });

  it('refuses text that is not a position', () => {
    for (const bad of ['', '1', '1/', '/2', '-1/2', '1.5/2', 'a/b'])
      expect(() => parsePosition(bad)).to.throw(RangeError);
  });
});
