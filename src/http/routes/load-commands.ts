import { z } from 'zod';
import type { LoadService } from '../../application/loads.js';
import { cents, loadDetails, timeWindow } from '../../domain/load/schemas.js';
import { answer, commandAnswer, newId, uuidParam } from '../commands.js';
import { defineRoute, type Route, type RouteDef } from '../route.js';

const loadParams = z.object({ loadId: uuidParam('The load') });
const bidParams = loadParams.extend({ bidId: uuidParam('The bid') });
const accepted = { 202: { description: 'Applied (or already so)', schema: commandAnswer } };
const SHIPPER_SIDE = ['shipper', 'dispatcher', 'admin'] as const;
const CARRIER_SIDE = ['carrier', 'dispatcher', 'admin'] as const;
const HAULING = ['carrier', 'driver', 'dispatcher', 'admin'] as const;

/** Every load command: post, revise, bid, accept, book, assign, pick up, transit, deliver, cancel, release, expire. */
export function loadCommandRoutes(deps: { loads: LoadService }): Route[] {
  const { loads } = deps;

  // The simple transitions share one shape: a load id, maybe a body, one command.
  const transition = <B extends z.ZodType | undefined>(def: {
    path: string;
    operationId: string;
    summary: string;
    description?: string;
    roles: RouteDef['roles'];
    body?: B;
    command: (body: B extends z.ZodType ? z.output<B> : undefined) => Parameters<LoadService['run']>[1];
  }) =>
    defineRoute({
      method: 'post',
      path: `/loads/{loadId}/${def.path}`,
      operationId: def.operationId,
      summary: def.summary,
      ...(def.description ? { description: def.description } : {}),
      tags: ['Loads'],
      roles: def.roles,
      command: true,
      params: loadParams,
      body: def.body,
      responses: accepted,
      async handle(input) {
        const command = def.command(input.body as B extends z.ZodType ? z.output<B> : undefined);
        return answer(await loads.run(input.params.loadId, command, input));
      },
    });

  return [
    defineRoute({
      method: 'post',
      path: '/loads',
      operationId: 'postLoad',
      summary: 'Post a load to the board',
      description:
        'Trip miles are estimated from the great circle with a road factor of 1.2 when not given. A posting lives until its pickup window ends, at most 8 days.',
      tags: ['Loads'],
      roles: SHIPPER_SIDE,
      command: true,
      body: loadDetails.extend({ loadId: z.uuid().optional() }),
      responses: { 201: { description: 'Posted', schema: commandAnswer } },
      async handle(input) {
        const { loadId: given, ...details } = input.body;
        const loadId = newId(input, given);
        const r = await loads.post({ ...details, loadId }, input);
        return answer(r, 201, { loadId }, { Location: `/loads/${loadId}` });
      },
    }),
    transition({
      path: 'revise',
      operationId: 'reviseLoad',
      summary: 'Change the rate or windows of a posted load',
      roles: SHIPPER_SIDE,
      body: z
        .object({
          rateCents: cents.optional(),
          pickupWindow: timeWindow.optional(),
          deliveryWindow: timeWindow.optional(),
        })
        .refine((b) => b.rateCents !== undefined || b.pickupWindow || b.deliveryWindow, {
          message: 'give rateCents, pickupWindow or deliveryWindow',
        }),
      command: (body) => ({ type: 'ReviseLoad', data: body }),
    }),
    defineRoute({
      method: 'post',
      path: '/loads/{loadId}/bids',
      operationId: 'placeBid',
      summary: 'Bid on a posted load (at most 5 open bids per carrier per load; verified, insured carriers only)',
      tags: ['Loads'],
      roles: CARRIER_SIDE,
      command: true,
      params: loadParams,
      body: z.object({ bidId: z.uuid().optional(), carrierId: z.uuid(), amountCents: cents }),
      responses: { 201: { description: 'Bid placed', schema: commandAnswer } },
      async handle(input) {
        const bidId = newId(input, input.body.bidId);
        const r = await loads.placeBid(
          input.params.loadId,
          { bidId, carrierId: input.body.carrierId, amountCents: input.body.amountCents },
          input,
        );
        return answer(r, 201, { bidId });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/loads/{loadId}/bids/{bidId}/withdraw',
      operationId: 'withdrawBid',
      summary: 'Withdraw an open bid',
      tags: ['Loads'],
      roles: CARRIER_SIDE,
      command: true,
      params: bidParams,
      responses: accepted,
      async handle(input) {
        const { loadId, bidId } = input.params;
        return answer(await loads.run(loadId, { type: 'WithdrawBid', data: { bidId } }, input));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/loads/{loadId}/bids/{bidId}/accept',
      operationId: 'acceptBid',
      summary: 'Accept a bid: books the load to the bidding carrier at the bid amount',
      tags: ['Loads'],
      roles: SHIPPER_SIDE,
      command: true,
      params: bidParams,
      responses: accepted,
      async handle(input) {
        const { loadId, bidId } = input.params;
        return answer(await loads.acceptBid(loadId, bidId, input));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/loads/{loadId}/book',
      operationId: 'bookNow',
      summary: 'Book a posted load now at its posted rate (verified, insured carriers only)',
      tags: ['Loads'],
      roles: CARRIER_SIDE,
      command: true,
      params: loadParams,
      body: z.object({ carrierId: z.uuid() }),
      responses: accepted,
      async handle(input) {
        return answer(await loads.bookNow(input.params.loadId, input.body.carrierId, input));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/loads/{loadId}/assignment',
      operationId: 'assignDriver',
      summary: 'Assign (or reassign) the driver and truck of a booked load',
      description: "The driver is an active user of the booked carrier's organisation with the driver role.",
      tags: ['Loads'],
      roles: CARRIER_SIDE,
      command: true,
      params: loadParams,
      body: z.object({
        driverId: z.uuid(),
        truckId: z.string().trim().min(1).max(64),
        trailerId: z.string().trim().min(1).max(64).optional(),
      }),
      responses: accepted,
      async handle(input) {
        return answer(await loads.assignDriver(input.params.loadId, input.body, input));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/loads/{loadId}/pickup',
      operationId: 'confirmPickup',
      summary: 'Confirm the load was picked up',
      description:
        "Checked against the assigned truck's last GPS fix: when there is none, it is stale, or it is outside the pickup site's geofence, " +
        'the pickup is recorded together with LoadFlaggedForReview, for a person to look at.',
      tags: ['Loads'],
      roles: HAULING,
      command: true,
      params: loadParams,
      responses: accepted,
      async handle(input) {
        return answer(await loads.confirmPickup(input.params.loadId, input));
      },
    }),
    transition({
      path: 'in-transit',
      operationId: 'markInTransit',
      summary: 'Mark the load in transit',
      roles: HAULING,
      command: () => ({ type: 'MarkInTransit', data: {} }),
    }),
    transition({
      path: 'delivery',
      operationId: 'deliverLoad',
      summary: 'Record delivery with proof of delivery',
      roles: HAULING,
      body: z.object({
        signedBy: z.string().trim().min(1).max(120),
        documentUrl: z.url().optional(),
        notes: z.string().max(1000).optional(),
      }),
      command: (body) => ({ type: 'DeliverLoad', data: body }),
    }),
    transition({
      path: 'cancel',
      operationId: 'cancelLoad',
      summary: 'Cancel a load before pickup',
      roles: SHIPPER_SIDE,
      body: z.object({ reason: z.string().trim().min(1).max(500) }),
      command: (body) => ({ type: 'CancelLoad', data: body }),
    }),
    transition({
      path: 'booking/release',
      operationId: 'releaseBooking',
      summary: 'Back out of a booking before pickup (the booked carrier)',
      description:
        "The load goes back on the board as posted. A release counts as a cancellation in the carrier's performance score.",
      roles: CARRIER_SIDE,
      body: z.object({ reason: z.string().trim().min(1).max(500) }),
      command: (body) => ({ type: 'ReleaseBooking', data: body }),
    }),
    transition({
      path: 'expire',
      operationId: 'expireLoad',
      summary: 'Expire a posting whose time is up (admin; the load-expiry job sends this)',
      roles: ['admin'],
      command: () => ({ type: 'ExpireLoad', data: {} }),
    }),
  ];
}
