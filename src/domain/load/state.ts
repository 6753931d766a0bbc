import type { TimeWindow } from './schemas.js';

/** A load's state as its decider folds it: a union tagged by status. */
export interface Bid {
  readonly bidId: string;
  readonly carrierId: string;
  readonly carrierOrgId: string;
  readonly amountCents: number;
  readonly status: 'open' | 'withdrawn' | 'accepted';
}

export interface Posting {
  readonly loadId: string;
  readonly shipperOrgId: string;
  readonly pickupSite: { readonly lat: number; readonly lng: number };
  readonly deliverySite: { readonly lat: number; readonly lng: number };
  readonly rateCents: number;
  readonly pickupWindow: TimeWindow;
  readonly deliveryWindow: TimeWindow;
  readonly tripMiles: number;
  readonly postedAt: Date;
  readonly expiresAt: Date;
  readonly bids: readonly Bid[];
}
export interface Booking {
  readonly carrierId: string;
  readonly carrierOrgId: string;
  readonly rateCents: number;
  readonly bidId?: string;
}
export interface Assignment {
  readonly driverId: string;
  readonly truckId: string;
  readonly trailerId?: string;
  /** When this truck's GPS first came within the geofence of each site. */
  readonly arrivals: { readonly pickup?: Date; readonly delivery?: Date };
}

export type LoadState =
  | { readonly status: 'none' }
  | { readonly status: 'posted'; readonly posting: Posting }
  | { readonly status: 'booked'; readonly posting: Posting; readonly booking: Booking }
  | {
      readonly status: 'assigned' | 'picked_up' | 'in_transit';
      readonly posting: Posting;
      readonly booking: Booking;
      readonly assignment: Assignment;
    }
  | {
      readonly status: 'delivered';
      readonly posting: Posting;
      readonly booking: Booking;
      readonly assignment: Assignment;
    }
  | {
      readonly status: 'cancelled' | 'expired';
      readonly posting: Posting;
      /** The carrier organisation that had the load booked when it was cancelled: it still sees the load. */
      readonly bookedBy?: string;
    };

export type LoadStatus = LoadState['status'];
