import { z } from 'zod';
import type { CarrierService } from '../../application/carriers.js';
import { CarrierPayoutAccountLinked, carrierProfile, verification } from '../../domain/carrier/events.js';
import { answer, commandAnswer, newId, uuidParam } from '../commands.js';
import { defineRoute, type Route } from '../route.js';

const carrierParams = z.object({ carrierId: uuidParam('The carrier') });
const accepted = { 202: { description: 'Applied (or already so)', schema: commandAnswer } };

/** Carrier commands. Queries (the carrier directory) live in carrier-directory.ts. */
export function carrierCommandRoutes(deps: { carriers: CarrierService }): Route[] {
  const { carriers } = deps;

  return [
    defineRoute({
      method: 'post',
      path: '/carriers',
      operationId: 'registerCarrier',
      summary: 'Register a carrier (USDOT, MC, legal name, equipment, home base)',
      tags: ['Carriers'],
      roles: ['carrier', 'dispatcher', 'admin'],
      command: true,
      body: carrierProfile.extend({ carrierId: z.uuid().optional() }),
      responses: { 201: { description: 'Registered; not eligible to bid until verified', schema: commandAnswer } },
      async handle(input) {
        const { carrierId: given, ...profile } = input.body;
        const carrierId = newId(input, given);
        const r = await carriers.register({ ...profile, carrierId }, input);
        return answer(r, 201, { carrierId }, { Location: `/carriers/${carrierId}` });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/carriers/{carrierId}/verifications',
      operationId: 'recordVerification',
      summary: 'Record a verification result by hand (admin override; the FMCSA job records them otherwise)',
      tags: ['Carriers'],
      roles: ['admin'],
      command: true,
      params: carrierParams,
      body: verification
        .omit({
          source: true,
          checkedAt: true,
          checked: true,
          dotFound: true,
          mcMatchesDot: true,
          registeredName: true,
        })
        .extend({ checkedAt: verification.shape.checkedAt.optional() }),
      responses: accepted,
      async handle(input) {
        const data = { ...input.body, source: 'admin' as const };
        return answer(await carriers.run(input.params.carrierId, { type: 'RecordVerification', data }, input));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/carriers/{carrierId}/mc-number',
      operationId: 'changeMcNumber',
      summary: "Change the carrier's MC number: it is unverified until the FMCSA check of the new number",
      tags: ['Carriers'],
      roles: ['carrier', 'dispatcher', 'admin'],
      command: true,
      params: carrierParams,
      body: z.object({ mcNumber: carrierProfile.shape.mcNumber.unwrap() }),
      responses: accepted,
      async handle(input) {
        return answer(
          await carriers.run(
            input.params.carrierId,
            { type: 'ChangeMcNumber', data: { mcNumber: input.body.mcNumber } },
            input,
          ),
        );
      },
    }),
    defineRoute({
      method: 'post',
      path: '/carriers/{carrierId}/payout-account',
      operationId: 'linkPayoutAccount',
      summary: "Link the carrier's Stripe Connect account, where its payouts are transferred",
      tags: ['Carriers', 'Payments'],
      roles: ['carrier', 'dispatcher', 'admin'],
      command: true,
      params: carrierParams,
      body: CarrierPayoutAccountLinked.schema.pick({ stripeAccountId: true }),
      responses: accepted,
      async handle(input) {
        return answer(
          await carriers.run(input.params.carrierId, { type: 'LinkPayoutAccount', data: input.body }, input),
        );
      },
    }),
    defineRoute({
      method: 'post',
      path: '/carriers/{carrierId}/insurance-expiry',
      operationId: 'expireInsurance',
      summary: "Record that the carrier's insurance has run out (refused before its end date)",
      tags: ['Carriers'],
      roles: ['admin'],
      command: true,
      params: carrierParams,
      responses: accepted,
      async handle(input) {
        return answer(await carriers.run(input.params.carrierId, { type: 'ExpireInsurance', data: {} }, input));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/carriers/{carrierId}/suspend',
      operationId: 'suspendCarrier',
      summary: 'Suspend a carrier: it can no longer bid or book',
      tags: ['Carriers'],
      roles: ['admin'],
      command: true,
      params: carrierParams,
      body: z.object({ reason: z.string().trim().min(1).max(500) }),
      responses: accepted,
      async handle(input) {
        return answer(
          await carriers.run(
            input.params.carrierId,
            { type: 'SuspendCarrier', data: { reason: input.body.reason } },
            input,
          ),
        );
      },
    }),
    defineRoute({
      method: 'post',
      path: '/carriers/{carrierId}/reinstate',
      operationId: 'reinstateCarrier',
      summary: 'Reinstate a suspended carrier',
      tags: ['Carriers'],
      roles: ['admin'],
      command: true,
      params: carrierParams,
      responses: accepted,
      async handle(input) {
        return answer(await carriers.run(input.params.carrierId, { type: 'ReinstateCarrier', data: {} }, input));
      },
    }),
  ];
}
