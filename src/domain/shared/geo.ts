import { z } from 'zod';

/**
 * The smallest magnitude a coordinate may have, other than 0. Postgres refuses a float8 product
 * that underflows to zero ("value out of range: underflow"), and `radians(5e-324)` does: one such
 * load stopped the board's projector for everyone. A billionth of a degree is a tenth of a millimetre.
 */
export const MIN_COORDINATE = 1e-9;
export const usableCoordinate = (v: number) => v === 0 || Math.abs(v) >= MIN_COORDINATE;
export const UNUSABLE_COORDINATE = { message: `use 0, or at least ${MIN_COORDINATE} degrees in magnitude` };

export const latitude = z.number().min(-90).max(90).refine(usableCoordinate, UNUSABLE_COORDINATE);
export const longitude = z.number().min(-180).max(180).refine(usableCoordinate, UNUSABLE_COORDINATE);

/** Great-circle distance in statute miles (haversine, mean Earth radius). */
export function greatCircleMiles(a: { lat: number; lng: number }, b: { lat: number; lng: number }): number {
  const R = 3958.7613;
  const rad = (d: number) => (d * Math.PI) / 180;
  const dLat = rad(b.lat - a.lat);
  const dLng = rad(b.lng - a.lng);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLng / 2) ** 2;
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Road miles run longer than the great circle; 1.2 is the usual planning factor for US truck lanes. */
export const ROAD_FACTOR = 1.2;

export function estimatedRoadMiles(a: { lat: number; lng: number }, b: { lat: number; lng: number }): number {
  return Math.max(1, Math.round(greatCircleMiles(a, b) * ROAD_FACTOR));
}
