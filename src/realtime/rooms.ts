import { z } from 'zod';
import { EQUIPMENT_TYPES, US_STATE } from '../domain/load/schemas.js';

/**
 * Rooms a dashboard can ask for: `loadboard` (optionally narrowed by origin states and equipment),
 * `load:<id>`, `tracking:<loadId>` and `org:<orgId>`. The board is split into rooms by origin state
 * and equipment (`lb:<state|*>:<equipment|*>`), so a narrowed dashboard joins only the combinations it
 * asked for and a broadcast is sent once to the four rooms that may want a load.
 */
export const subscribeRequest = z.object({
  room: z.string().min(1).max(100),
  states: z.array(US_STATE).max(60).optional(),
  equipment: z.array(z.enum(EQUIPMENT_TYPES)).max(20).optional(),
  since: z
    .string()
    .regex(/^\d{1,20}\/\d{1,20}$/, 'a position as the messages carry it, e.g. "1234/56"')
    .optional(),
});
export type SubscribeRequest = z.output<typeof subscribeRequest>;

export type RoomKind =
  | { kind: 'loadboard'; states?: readonly string[]; equipment?: readonly string[] }
  | { kind: 'load' | 'tracking' | 'org'; id: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The room asked for, or undefined when it is no room of ours. */
export function parseRoom(req: SubscribeRequest): RoomKind | undefined {
  if (req.room === 'loadboard')
    return {
      kind: 'loadboard',
      ...(req.states?.length ? { states: req.states } : {}),
      ...(req.equipment?.length ? { equipment: req.equipment } : {}),
    };
  const m = /^(load|tracking|org):(.+)$/.exec(req.room);
  if (!m || !UUID.test(m[2]!)) return undefined;
  return { kind: m[1] as 'load' | 'tracking' | 'org', id: m[2]!.toLowerCase() };
}

/** The board rooms a (narrowed) board dashboard joins. */
export function boardRoomsFor(states?: readonly string[], equipment?: readonly string[]): string[] {
  const ss = states?.length ? states : ['*'];
  const es = equipment?.length ? equipment : ['*'];
  return ss.flatMap((s) => es.map((e) => `lb:${s}:${e}`));
}

/** The board rooms that hear of a load picked up in `state` on `equipment`. */
export const boardRoomsOf = (state: string, equipment: string) => [
  `lb:*:*`,
  `lb:${state}:*`,
  `lb:*:${equipment}`,
  `lb:${state}:${equipment}`,
];

export const loadRoom = (id: string) => `load:${id}`;
export const trackingRoom = (id: string) => `tracking:${id}`;
export const orgRoom = (id: string) => `org:${id}`;
