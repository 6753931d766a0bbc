import type { Knex } from 'knex';

/** The statuses in which a load is hauled, and so tracked. */
const HAULED = ['assigned', 'picked_up', 'in_transit'] as const;

/** The loads a driver is assigned to and hauling, latest first (the driver's phone need not name its load). */
export async function loadsHauledBy(knex: Knex, driverId: string, limit: number): Promise<string[]> {
  const rows = await knex('load_board')
    .where('driver_id', driverId)
    .whereIn('status', HAULED)
    .orderBy('updated_at', 'desc')
    .limit(limit)
    .select<{ load_id: string }[]>('load_id');
  return rows.map((r) => r.load_id);
}
