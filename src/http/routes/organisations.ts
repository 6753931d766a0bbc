import { z } from 'zod';
import type { OrganisationService } from '../../application/organisations.js';
import { BillingAccountSet, orgKind, phoneNumber, role } from '../../domain/organisation/events.js';
import { isAdmin } from '../../domain/shared/actor.js';
import { AccessDenied } from '../../auth/errors.js';
import { HttpProblem, PROBLEM_BASE } from '../errors.js';
import { answer, commandAnswer, newId, uuidParam } from '../commands.js';
import { defineRoute, type Route } from '../route.js';
import { readAfter, type ReadDeps } from '../read.js';
import { organisationWithUsers } from '../../read-models/organisations/queries.js';

const orgParams = z.object({ orgId: uuidParam('The organisation') });
const userParams = orgParams.extend({ userId: uuidParam('The user') });
const created = { 201: { description: 'Created', schema: commandAnswer } };
const accepted = { 202: { description: 'Applied (or already so)', schema: commandAnswer } };

const organisationView = z
  .object({
    orgId: z.uuid(),
    name: z.string(),
    kind: orgKind,
    status: z.enum(['active', 'suspended']),
    revision: z.string(),
    registeredAt: z.string(),
    users: z.array(
      z.object({
        userId: z.uuid(),
        email: z.string(),
        phone: z.string().nullable(),
        name: z.string(),
        roles: z.array(role),
        active: z.boolean(),
      }),
    ),
  })
  .meta({ id: 'Organisation' });

export function organisationRoutes(deps: ReadDeps & { organisations: OrganisationService }): Route[] {
  const { organisations } = deps;

  return [
    defineRoute({
      method: 'post',
      path: '/orgs',
      operationId: 'registerOrganisation',
      summary: 'Register an organisation (shipper, carrier or broker)',
      tags: ['Organisations'],
      roles: ['admin'],
      command: true,
      body: z.object({ orgId: z.uuid().optional(), name: z.string().trim().min(1).max(200), kind: orgKind }),
      responses: created,
      async handle(input) {
        const orgId = newId(input, input.body.orgId);
        const r = await organisations.register({ orgId, name: input.body.name, kind: input.body.kind }, input);
        return answer(r, 201, { orgId }, { Location: `/orgs/${orgId}` });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/orgs/{orgId}',
      operationId: 'getOrganisation',
      summary: 'An organisation and its users (its own members, admins and auditors)',
      tags: ['Organisations'],
      roles: 'any',
      params: orgParams,
      query: z.object({ minPosition: z.string().optional() }),
      responses: { 200: { description: 'The organisation', schema: organisationView } },
      async handle({ params, query, actor }) {
        if (actor.orgId !== params.orgId && !isAdmin(actor) && !actor.roles.includes('auditor')) {
          throw new AccessDenied('Only members of the organisation see it');
        }
        await readAfter(deps, 'organisations', query.minPosition);
        const found = await organisationWithUsers(deps.knex, params.orgId);
        if (!found) throw new HttpProblem(404, `${PROBLEM_BASE}not-found`, `No organisation ${params.orgId}`);
        const { organisation: o, users } = found;
        return {
          status: 200,
          body: {
            orgId: o.org_id,
            name: o.name,
            kind: o.kind,
            status: o.status,
            revision: String(o.revision),
            registeredAt: new Date(o.registered_at).toISOString(),
            users: users.map((u) => ({
              userId: u.user_id,
              email: u.email,
              phone: u.phone,
              name: u.name,
              roles: u.roles,
              active: u.active,
            })),
          },
        };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/orgs/{orgId}/users',
      operationId: 'addUser',
      summary: 'Add a user with roles to an organisation',
      tags: ['Organisations'],
      roles: ['admin', 'dispatcher'],
      command: true,
      params: orgParams,
      body: z.object({
        userId: z.uuid().optional(),
        email: z.email().max(254),
        name: z.string().trim().min(1).max(200),
        roles: z.array(role).min(1).max(6),
        phone: phoneNumber.optional().meta({ description: 'For text messages (drivers), E.164, e.g. +15125550100' }),
      }),
      responses: created,
      async handle(input) {
        const userId = newId(input, input.body.userId);
        const { email, name, roles, phone } = input.body;
        const r = await organisations.addUser(
          input.params.orgId,
          { userId, email, name, roles, ...(phone ? { phone } : {}) },
          input,
        );
        return answer(r, 201, { userId });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/orgs/{orgId}/billing-account',
      operationId: 'setBillingAccount',
      summary: "Set the shipper's Stripe customer and payment method, charged for delivered loads",
      tags: ['Organisations', 'Payments'],
      roles: ['admin', 'dispatcher', 'shipper'],
      command: true,
      params: orgParams,
      body: BillingAccountSet.schema.pick({ stripeCustomerId: true, paymentMethodId: true }),
      responses: accepted,
      async handle(input) {
        return answer(
          await organisations.run(input.params.orgId, { type: 'SetBillingAccount', data: input.body }, input),
        );
      },
    }),
    defineRoute({
      method: 'post',
      path: '/orgs/{orgId}/users/{userId}/roles',
      operationId: 'changeUserRoles',
      summary: "Replace a user's roles",
      tags: ['Organisations'],
      roles: ['admin', 'dispatcher'],
      command: true,
      params: userParams,
      body: z.object({ roles: z.array(role).min(1).max(6) }),
      responses: accepted,
      async handle(input) {
        const { orgId, userId } = input.params;
        return answer(
          await organisations.run(orgId, { type: 'ChangeUserRoles', data: { userId, roles: input.body.roles } }, input),
        );
      },
    }),
    defineRoute({
      method: 'post',
      path: '/orgs/{orgId}/users/{userId}/deactivate',
      operationId: 'deactivateUser',
      summary: 'Deactivate a user: their tokens stop working at once',
      tags: ['Organisations'],
      roles: ['admin', 'dispatcher'],
      command: true,
      params: userParams,
      responses: accepted,
      async handle(input) {
        const { orgId, userId } = input.params;
        return answer(await organisations.run(orgId, { type: 'DeactivateUser', data: { userId } }, input));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/orgs/{orgId}/suspend',
      operationId: 'suspendOrganisation',
      summary: "Suspend an organisation: its users' requests are refused",
      tags: ['Organisations'],
      roles: ['admin'],
      command: true,
      params: orgParams,
      body: z.object({ reason: z.string().trim().min(1).max(500) }),
      responses: accepted,
      async handle(input) {
        return answer(
          await organisations.run(
            input.params.orgId,
            { type: 'SuspendOrganisation', data: { reason: input.body.reason } },
            input,
          ),
        );
      },
    }),
    defineRoute({
      method: 'post',
      path: '/orgs/{orgId}/reinstate',
      operationId: 'reinstateOrganisation',
      summary: 'Reinstate a suspended organisation',
      tags: ['Organisations'],
      roles: ['admin'],
      command: true,
      params: orgParams,
      responses: accepted,
      async handle(input) {
        return answer(await organisations.run(input.params.orgId, { type: 'ReinstateOrganisation', data: {} }, input));
      },
    }),
  ];
}
