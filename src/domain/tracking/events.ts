import { z } from 'zod';
import { isoDateTime } from '../shared/codecs.js';
import { defineEvent, EventRegistry, type EventsOf } from '../shared/event-schema.js';
import { latitude, longitude } from '../shared/geo.js';

/**
 * One GPS fix of the truck hauling a load, on the load's tracking stream (`tracking-<loadId>`).
 * Who drove is not in it: that lives in the load's assignment, so the pings can be deleted when
 * their retention ends without losing who hauled the load.
 */
export const PingRecorded = defineEvent({
  type: 'PingRecorded',
  schema: z.object({
    pingId: z.uuid(),
    lat: latitude,
    lng: longitude,
    speedMph: z.number().min(0),
    headingDeg: z.number().min(0).lt(360).optional(),
    accuracyM: z.number().min(0).optional(),
    recordedAt: isoDateTime,
    receivedAt: isoDateTime,
  }),
});

export const trackingEventDefinitions = [PingRecorded] as const;
export const trackingEvents = new EventRegistry([...trackingEventDefinitions]);
export type TrackingEvent = EventsOf<typeof trackingEventDefinitions>;
