/** A place on the map, in degrees. */
export interface Point {
  lat: number;
  lng: number;
}

/**
 * A grid of 0.25° × 0.25° cells (about 17 × 13 miles in the lower 48). Loads cluster around
 * hubs, and a radius query in pickup order reads the cells it touches one by one, each from an
 * index on (cell, pickup_from, load_id) that yields its loads already in order (query.ts).
 */
const PER_DEGREE = 4;
const COLUMNS = 360 * PER_DEGREE;

/** A site's cell as SQL; the projector's indexes use the very same expression. */
export const cellSql = (prefix: 'origin' | 'dest') =>
  `((floor(${prefix}_lat * ${PER_DEGREE})::int + ${90 * PER_DEGREE}) * ${COLUMNS} + floor(${prefix}_lng * ${PER_DEGREE})::int + ${180 * PER_DEGREE})`;

/** The same in JS, from the cell's integer coordinates (floor(lat × 4), floor(lng × 4)). */
const cellId = (a: number, o: number) => (a + 90 * PER_DEGREE) * COLUMNS + o + 180 * PER_DEGREE;

/**
 * Past this many cells (a radius of about 450 miles) the GiST index takes over. Measured at 1M
 * loads: 400 miles around Dallas, 2,500 cells, 26–38 ms, where the GiST index took 540 ms.
 */
const MAX_CELLS = 4000;
/** earthdistance's earth() radius (6,378,168 m), in miles. */
const EARTH_MILES = 6_378_168 / 1609.344;
/** Fewest miles in a degree of latitude, so the bounding box never falls short. */
const MILES_PER_DEGREE_LAT = 68.7;

const rad = (d: number) => (d * Math.PI) / 180;
export function greatCircleMiles(a: { lat: number; lng: number }, b: { lat: number; lng: number }): number {
  const h =
    Math.sin(rad(b.lat - a.lat) / 2) ** 2 +
    Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(rad(b.lng - a.lng) / 2) ** 2;
  return 2 * EARTH_MILES * Math.asin(Math.min(1, Math.sqrt(h)));
}

export interface CircleCells {
  /** Cells wholly inside the circle. */
  inside: number[];
  /** Cells the circle's edge crosses. */
  edge: number[];
}

/**
 * The cells that meet a circle, split into those wholly inside it and those its edge crosses; or
 * undefined when there would be too many, or the circle reaches a pole or the antimeridian.
 * Which cells meet the circle errs on the side of too many (the query's distance test decides
 * each load); which are inside only steers the reading order, never the answer.
 */
export function cellsCovering(p: Point & { radiusMi: number }): CircleCells | undefined {
  const dLat = p.radiusMi / MILES_PER_DEGREE_LAT;
  const far = Math.abs(p.lat) + dLat;
  if (far >= 89) return undefined;
  const dLng = dLat / Math.cos(rad(far));
  if (p.lng - dLng < -180 || p.lng + dLng >= 180) return undefined;
  const [a0, a1] = [Math.floor((p.lat - dLat) * PER_DEGREE), Math.floor((p.lat + dLat) * PER_DEGREE)];
  const [o0, o1] = [Math.floor((p.lng - dLng) * PER_DEGREE), Math.floor((p.lng + dLng) * PER_DEGREE)];
  if ((a1 - a0 + 1) * (o1 - o0 + 1) > MAX_CELLS * 2) return undefined;
  const out: CircleCells = { inside: [], edge: [] };
  const reach = p.radiusMi * 1.01 + 0.5;
  for (let a = a0; a <= a1; a++) {
    const [lat0, lat1] = [a / PER_DEGREE, (a + 1) / PER_DEGREE];
    for (let o = o0; o <= o1; o++) {
      const [lng0, lng1] = [o / PER_DEGREE, (o + 1) / PER_DEGREE];
      const nearest = { lat: Math.min(Math.max(p.lat, lat0), lat1), lng: Math.min(Math.max(p.lng, lng0), lng1) };
      if (greatCircleMiles(p, nearest) > reach) continue;
      const corners = [
        { lat: lat0, lng: lng0 },
        { lat: lat0, lng: lng1 },
        { lat: lat1, lng: lng0 },
        { lat: lat1, lng: lng1 },
      ];
      (corners.every((c) => greatCircleMiles(p, c) < p.radiusMi) ? out.inside : out.edge).push(cellId(a, o));
    }
  }
  return out.inside.length + out.edge.length > MAX_CELLS ? undefined : out;
}
