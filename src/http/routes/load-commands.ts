import { z } from 'zod';
import { carrierStanding, loadState, organisationState } from '../../application/lookups.js';
import type { CarrierStanding } from '../../domain/carrier/eligibility.js';
import type { LoadCommand } from '../../domain/load/commands.js';
import { mayActAs, mustSee } from '../../domain/load/access.js';
import * as load from '../../domain/load/decider.js';
import type { LoadState } from '../../domain/load/decider.js';
import type { Actor } from '../../domain/shared/actor.js';
import { loadEvents } from '../../domain/load/events.js';
import { cents, loadDetails, timeWindow } from '../../domain/load/schemas.js';
import type { LocationPolicy } from '../../domain/load/location.js';
import { RuleViolation } from '../../domain/shared/errors.js';
import type { EventStore } from '../../eventstore/types.js';
import type { LatestLocations } from '../../read-models/tracking/latest.js';
import { answer, type CommandDeps, commandAnswer, metadataOf, newId, run, uuidParam } from '../commands.js';
import { HttpProblem, PROBLEM_BASE } from '../errors.js';
import { defineRoute, type Route, type RouteDef } from '../route.js';
import { loadStream } from '../../domain/load/stream.js';

const loadParams = z.object({ loadId: uuidParam('The load') });
const bidParams = loadParams.extend({ bidId: uuidParam('The bid') });
const accepted = { 202: { description: 'Applied (or already so)', schema: commandAnswer } };
const SHIPPER_SIDE = ['shipper', 'dispatcher', 'admin'] as const;
const CARRIER_SIDE = ['carrier', 'dispatcher', 'admin'] as const;
const HAULING = ['carrier', 'driver', 'dispatcher', 'admin'] as const;

/** The load as the actor may see it: the read's 404 first, before any other lookup a route makes. */
async function visibleLoad(store: EventStore, loadId: string, actor: Actor): Promise<LoadState> {
  const state = await loadState(store, loadId);
  mustSee(actor, state, loadId);
  return state;
}

async function standing(store: EventStore, carrierId: string): Promise<CarrierStanding> {
  const s = await carrierStanding(store, carrierId);
  if (!s) throw new RuleViolation('unknown-carrier', `No carrier ${carrierId} is registered`);
  return s;
}

/** Every load command: post, revise, bid, accept, book, assign, pick up, transit, deliver, cancel, release, expire. */
export function loadCommandRoutes(deps: CommandDeps & { locations: LatestLocations; locationPolicy: LocationPolicy }): Route[] {
  const exec = (loadId: string, command: LoadCommand, input: Parameters<typeof run>[5]) => run(deps, loadEvents, loadStream(loadId), load, command, input);

  // The simple transitions share one shape: a load id, maybe a body, one command.
  const transition = <B extends z.ZodType | undefined>(def: {
    path: string;
    operationId: string;
    summary: string;
    description?: string;
    roles: RouteDef['roles'];
    body?: B;
    command: (body: B extends z.ZodType ? z.output<B> : undefined) => Pick<LoadCommand, 'type' | 'data'>;
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
        const c = def.command(input.body as B extends z.ZodType ? z.output<B> : undefined);
        return answer(await exec(input.params.loadId, { ...c, metadata: metadataOf(input.actor) } as LoadCommand, input));
      },
    });

  return [
    defineRoute({
      method: 'post',
      path: '/loads',
      operationId: 'postLoad',
      summary: 'Post a load to the board',
      description: 'Trip miles are estimated from the great circle with a road factor of 1.2 when not given. A posting lives until its pickup window ends, at most 8 days.',
      tags: ['Loads'],
      roles: SHIPPER_SIDE,
      command: true,
      body: loadDetails.extend({ loadId: z.uuid().optional() }),
      responses: { 201: { description: 'Posted', schema: commandAnswer } },
      async handle(input) {
        const { loadId: given, ...details } = input.body;
        const loadId = newId(input, given);
        const command: LoadCommand = { type: 'PostLoad', data: { ...details, loadId }, metadata: metadataOf(input.actor) };
        // Who may post it first (for another organisation: 403; an id taken by another's load: 404 or
        // 403), then whether the organisation posts loads at all: a registered shipper or broker.
        load.authorize(command, await loadState(deps.store, loadId), loadId);
        const org = await organisationState(deps.store, details.shipperOrgId);
        if (org.status === 'none' || org.kind === 'carrier') throw new RuleViolation('not-a-shipper', 'shipperOrgId must be a registered shipper or broker organisation');
        const r = await exec(loadId, command, input);
        return answer(r, 201, { loadId }, { Location: `/loads/${loadId}` });
      },
    }),
    transition({
      path: 'revise',
      operationId: 'reviseLoad',
      summary: 'Change the rate or windows of a posted load',
      roles: SHIPPER_SIDE,
      body: z
        .object({ rateCents: cents.optional(), pickupWindow: timeWindow.optional(), deliveryWindow: timeWindow.optional() })
        .refine((b) => b.rateCents !== undefined || b.pickupWindow || b.deliveryWindow, { message: 'give rateCents, pickupWindow or deliveryWindow' }),
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
        await visibleLoad(deps.store, input.params.loadId, input.actor);
        const carrier = await standing(deps.store, input.body.carrierId);
        const r = await exec(input.params.loadId, { type: 'PlaceBid', data: { bidId, carrier, amountCents: input.body.amountCents }, metadata: metadataOf(input.actor) }, input);
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
        return answer(await exec(loadId, { type: 'WithdrawBid', data: { bidId }, metadata: metadataOf(input.actor) }, input));
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
        const state = await visibleLoad(deps.store, loadId, input.actor);
        mayActAs(input.actor, state, 'shipper');
        const bid = 'posting' in state ? state.posting.bids.find((b) => b.bidId === bidId) : undefined;
        const carrierId = bid?.carrierId ?? ('booking' in state && state.booking.bidId === bidId ? state.booking.carrierId : undefined);
        if (!carrierId) throw new HttpProblem(404, `${PROBLEM_BASE}not-found`, `No bid ${bidId} on load ${loadId}`);
        const carrier = await standing(deps.store, carrierId);
        return answer(await exec(loadId, { type: 'AcceptBid', data: { bidId, carrier }, metadata: metadataOf(input.actor) }, input));
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
        await visibleLoad(deps.store, input.params.loadId, input.actor);
        const carrier = await standing(deps.store, input.body.carrierId);
        return answer(await exec(input.params.loadId, { type: 'BookNow', data: { carrier }, metadata: metadataOf(input.actor) }, input));
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
      body: z.object({ driverId: z.uuid(), truckId: z.string().trim().min(1).max(64), trailerId: z.string().trim().min(1).max(64).optional() }),
      responses: accepted,
      async handle(input) {
        const state = await visibleLoad(deps.store, input.params.loadId, input.actor);
        mayActAs(input.actor, state, 'hauler');
        // Who drives is one of the carrier's own drivers (its organisation's stream says so now), not
        // anyone's id: another organisation's driver could then follow the load, and nobody could track it.
        const carrierOrgId = 'booking' in state ? state.booking.carrierOrgId : undefined;
        const org = carrierOrgId ? await organisationState(deps.store, carrierOrgId) : undefined;
        const driver = org && org.status !== 'none' ? org.users[input.body.driverId] : undefined;
        if (carrierOrgId && (!driver?.active || !driver.roles.includes('driver'))) {
          throw new RuleViolation('not-a-driver', `User ${input.body.driverId} is not an active driver of the carrier's organisation`);
        }
        return answer(await exec(input.params.loadId, { type: 'AssignDriver', data: input.body, metadata: metadataOf(input.actor) }, input));
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
        const tracked = await deps.locations.get(input.params.loadId);
        const fix = tracked?.fix;
        const data = { ...(fix ? { truckFix: { lat: fix.lat, lng: fix.lng, recordedAt: fix.recordedAt } } : {}), policy: deps.locationPolicy };
        return answer(await exec(input.params.loadId, { type: 'ConfirmPickup', data, metadata: metadataOf(input.actor) }, input));
      },
    }),
    transition({ path: 'in-transit', operationId: 'markInTransit', summary: 'Mark the load in transit', roles: HAULING, command: () => ({ type: 'MarkInTransit', data: {} }) }),
    transition({
      path: 'delivery',
      operationId: 'deliverLoad',
      summary: 'Record delivery with proof of delivery',
      roles: HAULING,
      body: z.object({ signedBy: z.string().trim().min(1).max(120), documentUrl: z.url().optional(), notes: z.string().max(1000).optional() }),
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
      description: "The load goes back on the board as posted. A release counts as a cancellation in the carrier's performance score.",
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
