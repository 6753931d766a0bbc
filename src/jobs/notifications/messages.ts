import type { CarrierService } from '../../application/carriers.js';
import { carrierEvents } from '../../domain/carrier/events.js';
import * as load from '../../domain/load/decider.js';
import { type LoadEvent, loadEvents } from '../../domain/load/events.js';
import type { Role } from '../../domain/shared/actor.js';
import type { EventStore, RecordedEvent } from '../../eventstore/types.js';
import type { Recipients } from '../../read-models/organisations/queries.js';
import { carrierIdOf } from '../../domain/carrier/stream.js';
import { loadIdOf } from '../../domain/load/stream.js';

/** The events people hear of (CarrierVerificationRecorded only when the carrier failed it). */
export const NOTIFIED_EVENTS = [
  'BidPlaced',
  'LoadBooked',
  'DriverAssigned',
  'LoadDelivered',
  'LoadCancelled',
  'LoadBookingReleased',
  'LoadFlaggedForReview',
  'LoadExpired',
  'CarrierVerificationRecorded',
] as const;

export interface Notification {
  channel: 'email' | 'sms';
  to: string;
  subject: string;
  body: string;
}

/** Who is told: the members of an organisation in some roles, or one user; the organisations read model finds their addresses. */
type Audience = Recipients;

// One formatter: `toLocaleString` builds one on every call (it was 5% of a booking's CPU).
const DOLLARS = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const money = (cents: number) => `$${DOLLARS.format(cents / 100)}`;
const OFFICE: Role[] = ['shipper', 'dispatcher', 'admin'];
const CARRIER_OFFICE: Role[] = ['carrier', 'dispatcher', 'admin'];

/** The load as it stood once the event was applied, and the event itself. */
async function loadAt(store: EventStore, e: RecordedEvent) {
  const history = await store.readStream(e.streamId, { maxCount: Number(e.revision) + 1 });
  const decoded = history.map((h) => ({ type: h.type, data: loadEvents.decode(h) }) as LoadEvent);
  const state = decoded.reduce(load.evolve, load.initialState);
  const posted = decoded.find((d) => d.type === 'LoadPosted');
  const reference = posted?.type === 'LoadPosted' ? posted.data.reference : loadIdOf(e.streamId);
  return { state, reference, event: decoded[decoded.length - 1]! };
}

/** What to say about an event, and to whom (before the audience becomes addresses). */
export async function messagesFor(
  deps: { store: EventStore; carriers: Pick<CarrierService, 'state'> },
  e: RecordedEvent,
  platformOrgId: string,
): Promise<{ audience: Audience; subject: string; body: string; sms?: boolean }[]> {
  if (e.type === 'CarrierVerificationRecorded') {
    const state = await deps.carriers.state(carrierIdOf(e.streamId), e.revision);
    const v = carrierEvents.decode(e) as { verified: boolean; reasons: string[] };
    if (v.verified || state.status === 'none') return [];
    return [
      {
        audience: { orgId: state.profile.orgId, roles: CARRIER_OFFICE },
        subject: `${state.profile.legalName} could not be verified`,
        body: `The FMCSA check of USDOT ${state.profile.usdotNumber} found: ${v.reasons.join('; ')}. Until this is resolved the carrier cannot bid on or book loads.`,
      },
    ];
  }
  const { state, reference, event } = await loadAt(deps.store, e);
  if (state.status === 'none') return [];
  const shipper = { orgId: state.posting.shipperOrgId, roles: OFFICE };
  const carrierOrg = 'booking' in state ? { orgId: state.booking.carrierOrgId, roles: CARRIER_OFFICE } : undefined;
  switch (event.type) {
    case 'BidPlaced':
      return [
        {
          audience: shipper,
          subject: `New bid on load ${reference}`,
          body: `A carrier bid ${money(event.data.amountCents)} on load ${reference}.`,
        },
      ];
    case 'LoadBooked': {
      const booked = {
        subject: `Load ${reference} booked`,
        body: `Load ${reference} is booked at ${money(event.data.rateCents)} (${event.data.via === 'bid' ? 'accepted bid' : 'book now'}).`,
      };
      return [
        { audience: shipper, ...booked },
        { audience: { orgId: event.data.carrierOrgId, roles: CARRIER_OFFICE }, ...booked },
      ];
    }
    case 'DriverAssigned':
      return [
        {
          audience: { userId: event.data.driverId },
          // A driver on the road reads texts: to the phone as well, when there is one.
          sms: true,
          subject: `You are hauling load ${reference}`,
          body: `Load ${reference}, truck ${event.data.truckId}: pickup between ${state.posting.pickupWindow.from.toISOString()} and ${state.posting.pickupWindow.to.toISOString()}.`,
        },
      ];
    case 'LoadDelivered':
      return [
        {
          audience: shipper,
          subject: `Load ${reference} delivered`,
          body: `Load ${reference} was delivered; signed by ${event.data.proofOfDelivery.signedBy}.`,
        },
      ];
    case 'LoadCancelled':
      return carrierOrg
        ? [
            {
              audience: carrierOrg,
              subject: `Load ${reference} cancelled`,
              body: `The shipper cancelled load ${reference}: ${event.data.reason}.`,
            },
          ]
        : [];
    case 'LoadBookingReleased':
      return [
        {
          audience: shipper,
          subject: `Carrier released load ${reference}`,
          body: `The carrier released load ${reference} (${event.data.reason}); it is back on the board.`,
        },
      ];
    case 'LoadFlaggedForReview': {
      const flagged = {
        subject: `Load ${reference} flagged for review`,
        body: `Pickup of load ${reference} was confirmed but the truck's GPS did not place it at the site (${event.data.reason.replace(/_/g, ' ')}).`,
      };
      return [
        { audience: shipper, ...flagged },
        { audience: { orgId: platformOrgId, roles: ['admin'] }, ...flagged },
      ];
    }
    case 'LoadExpired':
      return [
        {
          audience: shipper,
          subject: `Load ${reference} expired`,
          body: `Nobody booked load ${reference} before its pickup window passed.`,
        },
      ];
    default:
      return [];
  }
}
