import { expect } from 'chai';
import knexFactory from 'knex';
import type { Actor } from '../../src/domain/shared/actor.js';
import { boardQuery, type BoardQueryOptions } from '../../src/read-models/load-board/query.js';

// SQL only: no connection is made.
const knex = knexFactory({ client: 'pg' });
const carrier: Actor = { userId: 'u1', orgId: 'o-carrier', roles: ['carrier'] };
const shipper: Actor = { userId: 'u2', orgId: 'o-shipper', roles: ['shipper'] };
const sql = (actor: Actor, statuses: BoardQueryOptions['filters']['statuses']) =>
  boardQuery(knex, { filters: { statuses }, actor, sort: 'pickup', limit: 25, now: new Date() }).toString();

describe('Visibility on the board', () => {
  it('adds no clause for a board role asking for posted loads only, which it sees all of', () => {
    const q = sql(carrier, ['posted']);
    expect(q).to.not.match(/shipper_org_id|carrier_org_id/);
    expect(q).to.match(/"status" in \('posted'\)/);
  });

  it('keeps its organisation clause when the board role asks for other statuses too', () => {
    expect(sql(carrier, ['posted', 'booked'])).to.match(
      /"shipper_org_id" = 'o-carrier' or "carrier_org_id" = 'o-carrier' or "status" = 'posted'/,
    );
  });

  it('keeps a shipper to its own loads, posted or not', () => {
    expect(sql(shipper, ['posted'])).to.match(/"shipper_org_id" = 'o-shipper' or "carrier_org_id" = 'o-shipper'\)/);
  });
});
