import { z } from 'zod';
import { equipmentType, US_STATE } from '../../domain/load/schemas.js';
import type { CarrierRow } from '../../read-models/carrier-directory/projector.js';
import { carrierById, type CarrierKeyset, carrierPage } from '../../read-models/carrier-directory/queries.js';
import { HttpProblem, PROBLEM_BASE } from '../errors.js';
import { minPositionQuery, readAfter, type ReadDeps } from '../read.js';
import { defineRoute, type Route } from '../route.js';

const carrierView = z
  .object({
    carrierId: z.uuid(),
    revision: z.string(),
    orgId: z.uuid(),
    usdotNumber: z.string(),
    mcNumber: z.string().nullable(),
    legalName: z.string(),
    equipment: z.array(z.string()),
    homeBase: z.object({ city: z.string(), state: z.string(), lat: z.number(), lng: z.number() }),
    status: z.enum(['active', 'suspended']),
    verification: z.object({
      verified: z.boolean(),
      eligible: z.boolean().meta({ description: 'May bid and book now: verified, insured, active' }),
      allowedToOperate: z.boolean().nullable(),
      outOfService: z.boolean().nullable(),
      authorityStatus: z.string().nullable(),
      insuranceOnFile: z.boolean().nullable(),
      insuranceExpiresAt: z.string().nullable(),
      gaps: z.array(z.string()),
      checkedAt: z.string().nullable(),
    }),
    performance: z.object({
      onTime: z.number().int(),
      late: z.number().int(),
      cancelled: z.number().int(),
      score: z.number().int(),
    }),
    registeredAt: z.string(),
  })
  .meta({ id: 'Carrier' });

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

function toView(r: CarrierRow, now: Date): z.output<typeof carrierView> {
  const insured =
    !r.insurance_expired &&
    r.insurance_on_file === true &&
    r.insurance_expires_at !== null &&
    new Date(r.insurance_expires_at) > now;
  return {
    carrierId: r.carrier_id,
    revision: String(r.revision),
    orgId: r.org_id,
    usdotNumber: r.usdot_number,
    mcNumber: r.mc_number,
    legalName: r.legal_name,
    equipment: r.equipment,
    homeBase: { city: r.home_city, state: r.home_state, lat: r.home_lat, lng: r.home_lng },
    status: r.status,
    verification: {
      verified: r.verified,
      eligible:
        r.verified && r.status === 'active' && r.allowed_to_operate === true && r.out_of_service === false && insured,
      allowedToOperate: r.allowed_to_operate,
      outOfService: r.out_of_service,
      authorityStatus: r.authority_status,
      insuranceOnFile: r.insurance_on_file,
      insuranceExpiresAt: iso(r.insurance_expires_at),
      gaps: r.verification_gaps,
      checkedAt: iso(r.checked_at),
    },
    performance: { onTime: r.on_time, late: r.late, cancelled: r.cancelled, score: r.score },
    registeredAt: iso(r.registered_at)!,
  };
}

const cursor = z.object({ n: z.string(), id: z.uuid() });

function decodeCursor(text: string): CarrierKeyset {
  try {
    const c = cursor.parse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
    return { legalName: c.n, carrierId: c.id };
  } catch {
    throw new HttpProblem(400, `${PROBLEM_BASE}bad-cursor`, 'The cursor is not one this API gave out');
  }
}

const encodeCursor = (k: CarrierKeyset) =>
  Buffer.from(JSON.stringify({ n: k.legalName, id: k.carrierId })).toString('base64url');

export function carrierDirectoryRoutes(deps: ReadDeps): Route[] {
  return [
    defineRoute({
      method: 'get',
      path: '/carriers',
      operationId: 'listCarriers',
      summary: 'The carrier directory, by legal name (keyset cursors)',
      tags: ['Carriers'],
      roles: 'any',
      query: z.object({
        state: US_STATE.optional().meta({ description: 'Home-base state' }),
        equipment: equipmentType.optional(),
        verified: z.enum(['true', 'false']).optional(),
        status: z.enum(['active', 'suspended']).optional(),
        minScore: z.coerce.number().int().min(0).max(100).optional(),
        usdotNumber: z
          .string()
          .regex(/^\d{1,8}$/)
          .optional(),
        name: z.string().trim().min(1).max(100).optional().meta({ description: 'Legal name starts with' }),
        limit: z.coerce.number().int().min(1).max(100).default(25),
        cursor: z.string().max(512).optional(),
        minPosition: minPositionQuery,
      }),
      responses: {
        200: {
          description: 'One page',
          schema: z.object({ items: z.array(carrierView), nextCursor: z.string().nullable() }),
        },
      },
      async handle({ query }) {
        await readAfter(deps, 'carrier_directory', query.minPosition);
        const after = query.cursor ? decodeCursor(query.cursor) : undefined;
        const { state, equipment, status, minScore, usdotNumber, name: namePrefix } = query;
        const verified = query.verified ? query.verified === 'true' : undefined;
        const filters = { state, equipment, verified, status, minScore, usdotNumber, namePrefix };
        const page = await carrierPage(deps.knex, filters, { after, limit: query.limit });
        const now = new Date();
        return {
          status: 200,
          body: { items: page.rows.map((r) => toView(r, now)), nextCursor: page.next ? encodeCursor(page.next) : null },
        };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/carriers/{carrierId}',
      operationId: 'getCarrier',
      summary: 'One carrier with its verification state and score',
      tags: ['Carriers'],
      roles: 'any',
      params: z.object({ carrierId: z.uuid() }),
      query: z.object({ minPosition: minPositionQuery }),
      responses: { 200: { description: 'The carrier', schema: carrierView }, 404: { description: 'No such carrier' } },
      async handle({ params, query }) {
        await readAfter(deps, 'carrier_directory', query.minPosition);
        const row = await carrierById(deps.knex, params.carrierId);
        if (!row) throw new HttpProblem(404, `${PROBLEM_BASE}not-found`, `No carrier ${params.carrierId}`);
        return { status: 200, headers: { ETag: `"${row.revision}"` }, body: toView(row, new Date()) };
      },
    }),
  ];
}
