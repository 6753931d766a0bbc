import { expect } from 'chai';
import type { CarrierCommand } from '../../../src/domain/carrier/commands.js';
import { decide, evolve, initialState, score, standingOf } from '../../../src/domain/carrier/decider.js';
import { ineligibility } from '../../../src/domain/carrier/eligibility.js';
import {
  carrierEventDefinitions,
  carrierEvents,
  type CarrierEvent,
  type CarrierProfile,
  type Verification,
} from '../../../src/domain/carrier/events.js';
import type { Actor } from '../../../src/domain/shared/actor.js';
import { DomainError, IllegalTransition, RuleViolation } from '../../../src/domain/shared/errors.js';
import { specification } from '../../support/decider.js';
import { admin, CARRIER_ID, CARRIER_ORG, carrierUser, hours, LOAD_ID, NOW, stranger } from './load-fixtures.js';

const given = specification({ decide, evolve, initialState });
const cmd = <C extends CarrierCommand>(type: C['type'], data: C['data'], actor: Actor = admin, now = NOW): C =>
  ({ type, data, metadata: { now, actor } }) as C;

const profile: CarrierProfile = {
  orgId: CARRIER_ORG,
  usdotNumber: '1234567',
  mcNumber: 'MC-654321',
  legalName: 'Lone Star Flatbed LLC',
  equipment: ['flatbed', 'step_deck'],
  homeBase: { city: 'Fort Worth', state: 'TX', lat: 32.75, lng: -97.33 },
};
const clean: Omit<Verification, 'checkedAt'> = {
  allowedToOperate: true,
  outOfService: false,
  authorityStatus: 'active',
  insurance: {
    onFile: true,
    bipdCoverageCents: 75_000_000,
    cargoCoverageCents: 10_000_000,
    expiresAt: hours(24 * 180),
  },
  source: 'admin',
};
const registered: CarrierEvent = {
  type: 'CarrierRegistered',
  data: { ...profile, carrierId: CARRIER_ID, registeredAt: NOW },
};
const verified: CarrierEvent = {
  type: 'CarrierVerificationRecorded',
  data: { ...clean, checkedAt: NOW, verified: true, reasons: [] },
};
const suspended: CarrierEvent = {
  type: 'CarrierSuspended',
  data: { reason: 'fraud report', suspendedBy: 'u-admin', suspendedAt: NOW },
};

describe('The carrier decider', () => {
  describe('every command in every state', () => {
    const states = {
      none: [],
      registered: [registered],
      verified: [registered, verified],
      suspended: [registered, verified, suspended],
    };
    type Outcome = 'events' | 'noop' | 'refused';
    const matrix: { command: CarrierCommand; outcomes: Record<keyof typeof states, Outcome> }[] = [
      {
        command: cmd('RegisterCarrier', { ...profile, carrierId: CARRIER_ID }, carrierUser),
        outcomes: { none: 'events', registered: 'refused', verified: 'refused', suspended: 'refused' },
      },
      {
        command: cmd('RecordVerification', clean),
        outcomes: { none: 'refused', registered: 'events', verified: 'events', suspended: 'events' },
      },
      {
        command: cmd('LinkPayoutAccount', { stripeAccountId: 'acct_1Lonestar' }, carrierUser),
        outcomes: { none: 'refused', registered: 'events', verified: 'events', suspended: 'events' },
      },
      {
        command: cmd('ChangeMcNumber', { mcNumber: 'MC-777777' }, carrierUser),
        outcomes: { none: 'refused', registered: 'events', verified: 'events', suspended: 'events' },
      },
      {
        command: cmd('ExpireInsurance', {}, admin, hours(24 * 181)),
        outcomes: { none: 'refused', registered: 'noop', verified: 'events', suspended: 'events' },
      },
      {
        command: cmd('SuspendCarrier', { reason: 'fraud report' }),
        outcomes: { none: 'refused', registered: 'events', verified: 'events', suspended: 'noop' },
      },
      {
        command: cmd('ReinstateCarrier', {}),
        outcomes: { none: 'refused', registered: 'noop', verified: 'noop', suspended: 'events' },
      },
      {
        command: cmd('RecordLoadOutcome', { loadId: LOAD_ID, outcome: 'on_time' }),
        outcomes: { none: 'refused', registered: 'events', verified: 'events', suspended: 'events' },
      },
    ];
    for (const { command, outcomes } of matrix) {
      for (const [name, outcome] of Object.entries(outcomes) as [keyof typeof states, Outcome][]) {
        it(`${command.type} on a ${name} carrier ${outcome === 'events' ? 'decides events' : outcome === 'noop' ? 'changes nothing' : 'is refused'}`, () => {
          const state = (states[name] as CarrierEvent[]).reduce(evolve, initialState);
          if (outcome === 'events') expect(decide(command, state)).to.have.length(1);
          else if (outcome === 'noop') expect(decide(command, state)).to.deep.equal([]);
          else expect(() => decide(command, state)).to.throw(IllegalTransition);
        });
      }
    }
  });

  it('registers a carrier for its own organisation only', () => {
    given([])
      .when(cmd('RegisterCarrier', { ...profile, carrierId: CARRIER_ID }, carrierUser))
      .then([registered]);
    given([])
      .when(cmd('RegisterCarrier', { ...profile, carrierId: CARRIER_ID }, stranger))
      .thenThrows(DomainError, /own organisation/);
  });

  describe('Recording a verification', () => {
    const gaps: [string, Partial<typeof clean>, string][] = [
      ['not allowed to operate', { allowedToOperate: false }, 'not allowed to operate'],
      ['out of service', { outOfService: true }, 'out of service'],
      ['with inactive authority', { authorityStatus: 'inactive' }, 'operating authority inactive'],
      ['without insurance', { insurance: { onFile: false } }, 'no insurance on file'],
      ['with expired insurance', { insurance: { onFile: true, expiresAt: hours(-1) } }, 'insurance expired'],
      ['with insurance of unknown end', { insurance: { onFile: true } }, 'insurance end date unknown'],
      [
        'with too little liability cover',
        { insurance: { ...clean.insurance, bipdCoverageCents: 50_000_000, bipdRequiredCents: 75_000_000 } },
        'liability insurance below the required amount',
      ],
      [
        'whose MC number belongs to another entity',
        { mcMatchesDot: false },
        'USDOT and MC numbers belong to different entities',
      ],
    ];
    for (const [name, change, reason] of gaps) {
      it(`marks a carrier ${name} as not verified, saying why`, () => {
        const [e] = decide(
          cmd('RecordVerification', { ...clean, ...change }),
          [registered].reduce(evolve, initialState),
        );
        expect(e!.data).to.deep.include({ verified: false, reasons: [reason] });
      });
    }

    it('marks a clean record verified; only admins record', () => {
      given([registered]).when(cmd('RecordVerification', clean)).then([verified]);
      given([registered])
        .when(cmd('RecordVerification', clean, carrierUser))
        .thenThrows(DomainError, /only an admin/);
    });
  });

  describe('Changing the MC number', () => {
    const changed: CarrierEvent = {
      type: 'CarrierMcNumberChanged',
      data: { mcNumber: 'MC-777777', previous: 'MC-654321', changedAt: NOW },
    };
    const fmcsa = (mcNumber: string) => ({
      ...clean,
      source: 'fmcsa' as const,
      checked: { usdotNumber: '1234567', mcNumber },
    });

    it('is done by the carrier itself or an admin, and a repeat changes nothing', () => {
      given([registered])
        .when(cmd('ChangeMcNumber', { mcNumber: 'mc-777777' }, carrierUser))
        .then([changed]);
      given([registered])
        .when(cmd('ChangeMcNumber', { mcNumber: 'MC-777777' }, stranger))
        .thenThrows(DomainError, /own organisation/);
      given([registered, changed])
        .when(cmd('ChangeMcNumber', { mcNumber: 'MC-777777' }, carrierUser))
        .then([]);
    });

    it('leaves the carrier unverified until the new numbers are checked', () => {
      const state = [registered, verified, changed].reduce(evolve, initialState);
      expect(ineligibility(standingOf(state)!, NOW)).to.match(/not verified/);
    });

    it('ignores a check of the numbers the carrier had before', () => {
      given([registered, changed])
        .when(cmd('RecordVerification', fmcsa('MC-654321')))
        .then([]);
      const [e] = decide(
        cmd('RecordVerification', fmcsa('MC-777777')),
        [registered, changed].reduce(evolve, initialState),
      );
      expect(e!.data).to.deep.include({ verified: true, source: 'fmcsa' });
    });
  });

  describe('Standing for bids and bookings', () => {
    const standing = (events: CarrierEvent[]) => standingOf(events.reduce(evolve, initialState))!;

    it('is eligible only once verified, and not while suspended or uninsured', () => {
      expect(ineligibility(standing([registered]), NOW)).to.match(/not verified/);
      expect(ineligibility(standing([registered, verified]), NOW)).to.equal(undefined);
      expect(ineligibility(standing([registered, verified, suspended]), NOW)).to.match(/suspended/);
      const reinstated: CarrierEvent = {
        type: 'CarrierReinstated',
        data: { reinstatedBy: 'u-admin', reinstatedAt: NOW },
      };
      expect(ineligibility(standing([registered, verified, suspended, reinstated]), NOW)).to.equal(undefined);
      const lapsed: CarrierEvent = { type: 'CarrierInsuranceExpired', data: { expiredAt: hours(24 * 181) } };
      expect(ineligibility(standing([registered, verified, lapsed]), NOW)).to.match(/insurance/);
      expect(ineligibility(standing([registered, verified]), hours(24 * 181))).to.match(/insurance/);
    });

    it('expires insurance only once it has ended', () => {
      given([registered, verified])
        .when(cmd('ExpireInsurance', {}, admin, hours(24)))
        .thenThrows(RuleViolation, /runs until/);
      given([registered, verified])
        .when(cmd('ExpireInsurance', {}, admin, hours(24 * 180)))
        .then([{ type: 'CarrierInsuranceExpired', data: { expiredAt: hours(24 * 180) } }]);
    });
  });

  describe('Performance score', () => {
    it('counts each load once: on time full, late half, cancelled nothing', () => {
      const outcome = (loadId: string, o: 'on_time' | 'late' | 'cancelled') =>
        cmd('RecordLoadOutcome', { loadId, outcome: o });
      let history: CarrierEvent[] = [registered];
      const ids = ['a', 'b', 'c', 'd'].map((c) => `${c.repeat(8)}-aaaa-4aaa-8aaa-aaaaaaaaaaaa`);
      for (const [id, o] of [
        [ids[0], 'on_time'],
        [ids[1], 'on_time'],
        [ids[2], 'late'],
        [ids[3], 'cancelled'],
      ] as const) {
        history = [...history, ...decide(outcome(id!, o), history.reduce(evolve, initialState))];
      }
      const last = history[history.length - 1]!;
      expect(last.data).to.include({ onTime: 2, late: 1, cancelled: 1, score: 63 });
      given(history).when(outcome(ids[0]!, 'late')).then([]);
      given(history).when(outcome(ids[3]!, 'cancelled')).then([]);
      // A carrier that backed out of a load and later hauled it anyway is scored for both.
      expect(decide(outcome(ids[3]!, 'on_time'), history.reduce(evolve, initialState))[0]!.data).to.include({
        onTime: 3,
        cancelled: 1,
      });
      expect(score({ onTime: 0, late: 0, cancelled: 0 })).to.equal(100);
    });
  });

  describe('events through their codec', () => {
    const samples: CarrierEvent[] = [
      registered,
      verified,
      suspended,
      { type: 'CarrierInsuranceExpired', data: { expiredAt: NOW } },
      { type: 'CarrierMcNumberChanged', data: { mcNumber: 'MC-777777', previous: 'MC-654321', changedAt: NOW } },
      { type: 'CarrierPayoutAccountLinked', data: { stripeAccountId: 'acct_1Lonestar', linkedAt: NOW } },
      {
        type: 'CarrierVerificationRecorded',
        data: {
          ...clean,
          insurance: { ...clean.insurance, bipdRequiredCents: 75_000_000 },
          source: 'fmcsa',
          checkedAt: NOW,
          checked: { usdotNumber: '1234567', mcNumber: 'MC-654321' },
          dotFound: true,
          mcMatchesDot: true,
          registeredName: 'LONE STAR FLATBED LLC',
          verified: true,
          reasons: [],
        },
      },
      { type: 'CarrierReinstated', data: { reinstatedBy: 'u-admin', reinstatedAt: NOW } },
      {
        type: 'CarrierPerformanceUpdated',
        data: { loadId: LOAD_ID, outcome: 'late', onTime: 0, late: 1, cancelled: 0, score: 50, at: NOW },
      },
    ];
    it('has a sample for every event type', () => {
      expect([...new Set(samples.map((s) => s.type))].sort()).to.deep.equal(
        carrierEventDefinitions.map((d) => d.type).sort(),
      );
    });
    for (const sample of samples) {
      it(`round-trips ${sample.type}`, () => {
        const { data, schemaVersion } = carrierEvents.encode(sample.type, sample.data);
        expect(
          carrierEvents.decode({
            type: sample.type,
            data: JSON.parse(JSON.stringify(data)),
            metadata: { schemaVersion },
          }),
        ).to.deep.equal(sample.data);
      });
    }
  });
});
