import { greatCircleMiles } from '../shared/geo.js';

/** How close a truck must be to a site to be there, and how old its last fix may be to count. */
export interface LocationPolicy {
  readonly geofenceMi: number;
  readonly maxFixAgeMs: number;
}

export const DEFAULT_LOCATION_POLICY: LocationPolicy = { geofenceMi: 0.5, maxFixAgeMs: 15 * 60_000 };

/** A truck's GPS fix as the tracking read model holds it. */
export interface TruckFix {
  readonly lat: number;
  readonly lng: number;
  readonly recordedAt: Date;
}

export type MismatchReason = 'no_location' | 'stale_location' | 'far_from_site';

export interface Mismatch {
  readonly reason: MismatchReason;
  readonly distanceMi?: number;
  readonly fixRecordedAt?: Date;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/**
 * Why the truck's last fix does not put it at the site now, or undefined when it does (pure).
 * No fix, one older than the policy allows, or one outside the geofence all fail: the platform's
 * check against a load picked up by someone other than the carrier it was booked to.
 */
export function locationMismatch(
  site: { lat: number; lng: number },
  fix: TruckFix | undefined,
  now: Date,
  policy: LocationPolicy,
): Mismatch | undefined {
  if (!fix) return { reason: 'no_location' };
  const distanceMi = round2(greatCircleMiles(site, fix));
  if (now.getTime() - fix.recordedAt.getTime() > policy.maxFixAgeMs)
    return { reason: 'stale_location', distanceMi, fixRecordedAt: fix.recordedAt };
  if (distanceMi > policy.geofenceMi) return { reason: 'far_from_site', distanceMi, fixRecordedAt: fix.recordedAt };
  return undefined;
}

export const withinGeofence = (
  site: { lat: number; lng: number },
  fix: { lat: number; lng: number },
  policy: LocationPolicy,
) => greatCircleMiles(site, fix) <= policy.geofenceMi;

export { round2 as roundMiles };
