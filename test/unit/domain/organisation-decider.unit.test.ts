import { expect } from 'chai';
import {
  decide,
  evolve,
  initialState,
  isActiveMember,
  type OrganisationCommand,
} from '../../../src/domain/organisation/decider.js';
import {
  organisationEventDefinitions,
  organisationEvents,
  type OrganisationEvent,
} from '../../../src/domain/organisation/events.js';
import type { Actor, Role } from '../../../src/domain/shared/actor.js';
import { DomainError, IllegalTransition, RuleViolation } from '../../../src/domain/shared/errors.js';
import { specification } from '../../support/decider.js';
import { admin, CARRIER_ORG, NOW, stranger } from './load-fixtures.js';

const given = specification({ decide, evolve, initialState });
const cmd = <T extends OrganisationCommand['type']>(
  type: T,
  data: Extract<OrganisationCommand, { type: T }>['data'],
  actor: Actor = admin,
) => ({ type, data, metadata: { now: NOW, actor } }) as OrganisationCommand;

const USER = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const USER2 = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const dispatcher: Actor = { userId: USER, orgId: CARRIER_ORG, roles: ['dispatcher'] };
const registered: OrganisationEvent = {
  type: 'OrganisationRegistered',
  data: { orgId: CARRIER_ORG, name: 'Lone Star Flatbed', kind: 'carrier', registeredAt: NOW },
};
const added: OrganisationEvent = {
  type: 'UserAdded',
  data: { userId: USER, email: 'ana@lonestar.example', name: 'Ana', roles: ['dispatcher'], addedAt: NOW },
};
const deactivated: OrganisationEvent = { type: 'UserDeactivated', data: { userId: USER, deactivatedAt: NOW } };
const suspended: OrganisationEvent = {
  type: 'OrganisationSuspended',
  data: { reason: 'unpaid fees', suspendedAt: NOW },
};

describe('The organisation decider', () => {
  describe('the billing account', () => {
    const shipperOrg: OrganisationEvent = {
      type: 'OrganisationRegistered',
      data: { orgId: CARRIER_ORG, name: 'Gulf Steel', kind: 'shipper', registeredAt: NOW },
    };
    const set = (actor: Actor) =>
      cmd('SetBillingAccount', { stripeCustomerId: 'cus_Gulf1', paymentMethodId: 'pm_card_visa' }, actor);
    const billed: OrganisationEvent = {
      type: 'BillingAccountSet',
      data: { stripeCustomerId: 'cus_Gulf1', paymentMethodId: 'pm_card_visa', setAt: NOW },
    };

    it("is set by an admin or the shipper's own staff, once", () => {
      given([shipperOrg]).when(set(admin)).then([billed]);
      given([shipperOrg])
        .when(set({ userId: USER, orgId: CARRIER_ORG, roles: ['shipper'] }))
        .then([billed]);
      given([shipperOrg, billed]).when(set(admin)).then([]);
      given([shipperOrg])
        .when(set(stranger))
        .thenThrows(DomainError, /own staff/);
    });

    it('is for shippers: carriers link a payout account instead', () => {
      given([registered])
        .when(set(admin))
        .thenThrows(RuleViolation, /carriers link a payout account/);
    });
  });

  describe('every command in every state', () => {
    const states = { none: [], active: [registered, added], suspended: [registered, added, suspended] };
    type Outcome = 'events' | 'noop' | 'refused';
    const matrix: { command: OrganisationCommand; outcomes: Record<keyof typeof states, Outcome> }[] = [
      {
        command: cmd('RegisterOrganisation', { orgId: CARRIER_ORG, name: 'X', kind: 'carrier' }),
        outcomes: { none: 'events', active: 'refused', suspended: 'refused' },
      },
      {
        command: cmd('AddUser', { userId: USER2, email: 'bo@lonestar.example', name: 'Bo', roles: ['driver'] }),
        outcomes: { none: 'refused', active: 'events', suspended: 'events' },
      },
      {
        command: cmd('ChangeUserRoles', { userId: USER, roles: ['dispatcher', 'carrier'] }),
        outcomes: { none: 'refused', active: 'events', suspended: 'events' },
      },
      {
        command: cmd('DeactivateUser', { userId: USER }),
        outcomes: { none: 'refused', active: 'events', suspended: 'events' },
      },
      {
        command: cmd('SuspendOrganisation', { reason: 'unpaid fees' }),
        outcomes: { none: 'refused', active: 'events', suspended: 'noop' },
      },
      { command: cmd('ReinstateOrganisation', {}), outcomes: { none: 'refused', active: 'noop', suspended: 'events' } },
    ];
    for (const { command, outcomes } of matrix) {
      for (const [name, outcome] of Object.entries(outcomes) as [keyof typeof states, Outcome][]) {
        it(`${command.type} on a ${name} organisation ${outcome === 'events' ? 'decides events' : outcome === 'noop' ? 'changes nothing' : 'is refused'}`, () => {
          const state = (states[name] as OrganisationEvent[]).reduce(evolve, initialState);
          if (outcome === 'events') expect(decide(command, state)).to.have.length(1);
          else if (outcome === 'noop') expect(decide(command, state)).to.deep.equal([]);
          else expect(() => decide(command, state)).to.throw(IllegalTransition);
        });
      }
    }
  });

  it("lets the organisation's dispatcher manage users, and no one from elsewhere", () => {
    const add = (actor: Actor) =>
      cmd('AddUser', { userId: USER2, email: 'bo@lonestar.example', name: 'Bo', roles: ['driver'] }, actor);
    expect(decide(add(dispatcher), [registered, added].reduce(evolve, initialState))).to.have.length(1);
    given([registered, added])
      .when(add(stranger))
      .thenThrows(DomainError, /dispatcher/);
    given([])
      .when(cmd('RegisterOrganisation', { orgId: CARRIER_ORG, name: 'X', kind: 'carrier' }, dispatcher))
      .thenThrows(DomainError, /only an admin/);
  });

  it('gives only roles that fit the organisation, and platform roles to nobody, not even from an admin', () => {
    const add = (roles: Role[], actor: Actor) =>
      cmd('AddUser', { userId: USER2, email: 'bo@lonestar.example', name: 'Bo', roles }, actor);
    given([registered, added])
      .when(add(['shipper'], admin))
      .thenThrows(RuleViolation, /cannot give the role\(s\) shipper/);
    given([registered, added])
      .when(add(['admin'], dispatcher))
      .thenThrows(RuleViolation, /admin/);
    given([registered, added])
      .when(add(['admin'], admin))
      .thenThrows(RuleViolation, /admin/);
    given([registered, added])
      .when(add(['dispatcher', 'auditor'], admin))
      .thenThrows(RuleViolation, /auditor/);
    expect(decide(add(['driver'], admin), [registered, added].reduce(evolve, initialState))).to.have.length(1);
  });

  it('refuses a second user with the same email, treats a repeated add as done', () => {
    given([registered, added])
      .when(cmd('AddUser', { userId: USER2, email: 'ANA@lonestar.example', name: 'Ana 2', roles: ['driver'] }))
      .thenThrows(RuleViolation, /already belongs/);
    given([registered, added])
      .when(cmd('AddUser', { userId: USER, email: 'ana@lonestar.example', name: 'Ana', roles: ['dispatcher'] }))
      .then([]);
  });

  it('deactivates once, and keeps a deactivated user out', () => {
    given([registered, added, deactivated])
      .when(cmd('DeactivateUser', { userId: USER }))
      .then([]);
    given([registered, added, deactivated])
      .when(cmd('ChangeUserRoles', { userId: USER, roles: ['carrier'] }))
      .thenThrows(IllegalTransition, /deactivated/);
    expect(isActiveMember([registered, added].reduce(evolve, initialState), USER)).to.equal(true);
    expect(isActiveMember([registered, added, deactivated].reduce(evolve, initialState), USER)).to.equal(false);
    expect(isActiveMember([registered, added, suspended].reduce(evolve, initialState), USER)).to.equal(false);
  });

  describe('events through their codec', () => {
    const samples: OrganisationEvent[] = [
      registered,
      added,
      { type: 'UserRolesChanged', data: { userId: USER, roles: ['carrier'], changedAt: NOW } },
      deactivated,
      suspended,
      { type: 'OrganisationReinstated', data: { reinstatedAt: NOW } },
      {
        type: 'BillingAccountSet',
        data: { stripeCustomerId: 'cus_Gulf1', paymentMethodId: 'pm_card_visa', setAt: NOW },
      },
    ];
    it('has a sample for every event type', () => {
      expect(samples.map((s) => s.type).sort()).to.deep.equal(organisationEventDefinitions.map((d) => d.type).sort());
    });
    for (const sample of samples) {
      it(`round-trips ${sample.type}`, () => {
        const { data, schemaVersion } = organisationEvents.encode(sample.type, sample.data);
        expect(
          organisationEvents.decode({
            type: sample.type,
            data: JSON.parse(JSON.stringify(data)),
            metadata: { schemaVersion },
          }),
        ).to.deep.equal(sample.data);
      });
    }
  });
});
