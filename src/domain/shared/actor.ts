export const ROLES = ['shipper', 'carrier', 'driver', 'dispatcher', 'admin', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

/** Who issues a command: passed in its metadata by the HTTP layer after authentication. */
export interface Actor {
  readonly userId: string;
  readonly orgId: string;
  readonly roles: readonly Role[];
}

export const isAdmin = (a: Actor) => a.roles.includes('admin');
/** Platform staff: admins act on everything, auditors read everything. */
export const isStaff = (a: Actor) => a.roles.includes('admin') || a.roles.includes('auditor');
