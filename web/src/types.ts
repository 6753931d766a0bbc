/** The shapes the dashboard reads from the API (see /openapi.json for the whole contract). */
export interface Place {
  city: string;
  state: string;
  lat: number;
  lng: number;
}

export interface LoadSummary {
  loadId: string;
  revision: string;
  status: string;
  shipper: { orgId: string; name: string | null };
  reference: string;
  commodity: string;
  equipmentType: string;
  weightLb: number;
  origin: Place;
  destination: Place;
  pickupWindow: { from: string; to: string };
  rateCents: number;
  currency: string;
  tripMiles: number;
  ratePerMileCents: number;
  booking: { carrierOrgId: string } | null;
  assignment: { truckId: string | null; arrivedAtPickup: string | null; arrivedAtDelivery: string | null } | null;
  review: { reason: string } | null;
}

export interface LoadDetail extends LoadSummary {
  history: { revision: string; event: string; status: string; at: string; actor: string | null }[];
}

export interface Fix {
  lat: number;
  lng: number;
  speedMph: number;
  recordedAt: string;
}

/** A Socket.IO `load` message: the load as GET /loads/:id shows it, or that it left a board. */
export interface LoadMessage {
  position: string;
  loadId: string;
  /** Absent when the load left a board (`removed`): the board hears no more than that. */
  status?: string;
  load?: LoadSummary;
  removed?: boolean;
}

export interface LocationMessage {
  position: string;
  loadId: string;
  truckId: string | null;
  status: string | null;
  fix: Fix;
}

export interface View {
  element: HTMLElement;
  /** Called when the user leaves the view. */
  leave?(): void;
}
