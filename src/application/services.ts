import type { TruckFix, LocationPolicy } from '../domain/load/location.js';
import type { EventStore } from '../eventstore/types.js';
import { CarrierService } from './carriers.js';
import { LoadService } from './loads.js';
import { type OrganisationLookups, OrganisationService } from './organisations.js';
import { PaymentService } from './payments.js';
import { TrackingService } from './tracking.js';

/** One service per aggregate, bound to one store: what routes, jobs and reactors call. */
export interface Services {
  organisations: OrganisationService;
  carriers: CarrierService;
  loads: LoadService;
  payments: PaymentService;
  tracking: TrackingService;
}

/** What the services look up outside the event store: read models and caches, behind small functions. */
export interface ServiceLookups extends OrganisationLookups {
  lastFix(loadId: string): Promise<TruckFix | undefined>;
  loadsHauledBy(driverId: string, limit: number): Promise<string[]>;
}

export function createServices(
  store: EventStore,
  lookups: ServiceLookups,
  options: { platformOrgId: string; locationPolicy: LocationPolicy; trackingRetentionSeconds?: number },
): Services {
  const organisations = new OrganisationService(store, { platformOrgId: options.platformOrgId, lookups });
  const carriers = new CarrierService(store, organisations);
  const loads = new LoadService(store, {
    carriers,
    organisations,
    lastFix: (id) => lookups.lastFix(id),
    locationPolicy: options.locationPolicy,
  });
  const tracking = new TrackingService(
    store,
    { loads, loadsHauledBy: (driverId, limit) => lookups.loadsHauledBy(driverId, limit) },
    options.trackingRetentionSeconds ? { retentionSeconds: options.trackingRetentionSeconds } : {},
  );
  return { organisations, carriers, loads, payments: new PaymentService(store), tracking };
}
