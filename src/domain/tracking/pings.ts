import { z } from 'zod';
import { latitude, longitude } from '../shared/geo.js';

/** What a ping may claim, beyond its shape. */
export interface PingLimits {
  /** A device clock may run this far ahead of ours. */
  readonly futureSkewMs: number;
  /** Older pings are refused (a phone that was offline for longer sends what is still useful). */
  readonly maxAgeMs: number;
  /** Faster than this is a bad fix, not a truck. */
  readonly maxSpeedMph: number;
}

export const DEFAULT_PING_LIMITS: PingLimits = { futureSkewMs: 2 * 60_000, maxAgeMs: 72 * 3_600_000, maxSpeedMph: 110 };

/** One ping as a phone sends it. */
export const pingInput = z.object({
  id: z.uuid().meta({ description: 'Made by the phone; a ping sent twice is stored once' }),
  lat: latitude,
  lng: longitude,
  speedMph: z.number().min(0).meta({ description: 'Ground speed, miles per hour' }),
  headingDeg: z.number().min(0).lt(360).optional().meta({ description: 'Course over ground, degrees from north' }),
  accuracyM: z.number().min(0).max(100_000).optional().meta({ description: 'Horizontal accuracy, meters' }),
  recordedAt: z.iso.datetime({ offset: true }).meta({ description: 'When the phone took the fix' }),
});
export type PingInput = z.output<typeof pingInput>;

export interface Ping {
  readonly pingId: string;
  readonly lat: number;
  readonly lng: number;
  readonly speedMph: number;
  readonly headingDeg?: number;
  readonly accuracyM?: number;
  readonly recordedAt: Date;
}

export interface PingRejection {
  readonly index: number;
  readonly errors: readonly string[];
}

/**
 * Sorts a batch into good pings and rejected ones, by index (pure: `now` is an input). A bad ping
 * never spoils the others; a ping repeated within the batch is kept once.
 */
export function checkPings(
  raw: readonly unknown[],
  now: Date,
  limits: PingLimits = DEFAULT_PING_LIMITS,
): { good: Ping[]; rejected: PingRejection[] } {
  const good: Ping[] = [];
  const rejected: PingRejection[] = [];
  const seen = new Set<string>();
  raw.forEach((item, index) => {
    const parsed = pingInput.safeParse(item);
    if (!parsed.success) {
      rejected.push({ index, errors: parsed.error.issues.map((i) => `${i.path.join('.') || 'ping'}: ${i.message}`) });
      return;
    }
    const p = parsed.data;
    const recordedAt = new Date(p.recordedAt);
    const errors: string[] = [];
    if (recordedAt.getTime() > now.getTime() + limits.futureSkewMs) errors.push('recordedAt: in the future');
    if (recordedAt.getTime() < now.getTime() - limits.maxAgeMs)
      errors.push(`recordedAt: older than ${Math.round(limits.maxAgeMs / 3_600_000)} hours`);
    if (p.speedMph > limits.maxSpeedMph) errors.push(`speedMph: above ${limits.maxSpeedMph}, not a truck's speed`);
    if (errors.length) {
      rejected.push({ index, errors });
      return;
    }
    if (seen.has(p.id)) return;
    seen.add(p.id);
    good.push({
      pingId: p.id,
      lat: p.lat,
      lng: p.lng,
      speedMph: p.speedMph,
      ...(p.headingDeg !== undefined ? { headingDeg: p.headingDeg } : {}),
      ...(p.accuracyM !== undefined ? { accuracyM: p.accuracyM } : {}),
      recordedAt,
    });
  });
  return { good, rejected };
}
