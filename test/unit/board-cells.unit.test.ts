import { expect } from 'chai';
import fc from 'fast-check';
import { cellsCovering, greatCircleMiles } from '../../src/read-models/load-board/cells.js';

/** The cell id of a point, as the SQL expression computes it. */
const cellOf = (lat: number, lng: number) => (Math.floor(lat * 4) + 360) * 1440 + Math.floor(lng * 4) + 720;

/** A point `miles` from `p` on `bearing` (degrees), on the same sphere. */
function destination(p: { lat: number; lng: number }, miles: number, bearing: number) {
  const R = 6_378_168 / 1609.344;
  const [φ1, λ1, θ, δ] = [(p.lat * Math.PI) / 180, (p.lng * Math.PI) / 180, (bearing * Math.PI) / 180, miles / R];
  const φ2 = Math.asin(Math.sin(φ1) * Math.cos(δ) + Math.cos(φ1) * Math.sin(δ) * Math.cos(θ));
  const λ2 = λ1 + Math.atan2(Math.sin(θ) * Math.sin(δ) * Math.cos(φ1), Math.cos(δ) - Math.sin(φ1) * Math.sin(φ2));
  return { lat: (φ2 * 180) / Math.PI, lng: (λ2 * 180) / Math.PI };
}

describe('Grid cells covering a radius', () => {
  const center = fc.record({
    lat: fc.double({ min: -70, max: 70, noNaN: true }),
    lng: fc.double({ min: -170, max: 170, noNaN: true }),
  });

  it('holds the cell of every point within the radius', () => {
    fc.assert(
      fc.property(
        center,
        fc.double({ min: 1, max: 300, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 360, noNaN: true }),
        (c, radiusMi, f, bearing) => {
          const cells = cellsCovering({ ...c, radiusMi });
          fc.pre(cells !== undefined);
          const p = destination(c, radiusMi * f, bearing);
          fc.pre(greatCircleMiles(c, p) <= radiusMi);
          expect([...cells!.inside, ...cells!.edge]).to.include(cellOf(p.lat, p.lng));
        },
      ),
      { numRuns: 3_000 },
    );
  });

  it('calls a cell inside only when all of it lies within the radius', () => {
    fc.assert(
      fc.property(
        center,
        fc.double({ min: 20, max: 200, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (c, radiusMi, u, v) => {
          const cells = cellsCovering({ ...c, radiusMi });
          fc.pre(cells !== undefined && cells.inside.length > 0);
          const id = cells!.inside[Math.min(cells!.inside.length - 1, Math.floor(u * cells!.inside.length))]!;
          const [a, o] = [Math.floor(id / 1440) - 360, (id % 1440) - 720];
          const p = { lat: (a + v) / 4, lng: (o + u) / 4 };
          expect(greatCircleMiles(c, p)).to.be.at.most(radiusMi);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('gives up near the poles, across the antimeridian and past a few thousand cells, leaving those to the GiST index', () => {
    expect(cellsCovering({ lat: 88.9, lng: 0, radiusMi: 10 })).to.equal(undefined);
    expect(cellsCovering({ lat: 10, lng: 179.9, radiusMi: 50 })).to.equal(undefined);
    expect(cellsCovering({ lat: 39, lng: -98, radiusMi: 1_500 })).to.equal(undefined);
    const dallas = cellsCovering({ lat: 32.78, lng: -96.8, radiusMi: 100 })!;
    expect(dallas.inside.length).to.be.greaterThan(80);
    expect(dallas.edge.length).to.be.greaterThan(20);
    expect(dallas.inside).to.include(cellOf(32.78, -96.8));
  });
});
