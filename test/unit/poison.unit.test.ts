import { expect } from 'chai';
import { loadConfig } from '../../src/infra/config.js';
import { isTransient } from '../../src/projections/parked.js';

const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('What makes an event poison', () => {
  it('takes connection, resource, shutdown, serialization and lock errors as transient, however deep their cause', () => {
    for (const code of [
      '08006',
      '08001',
      '53300',
      '57P01',
      '57014',
      '40001',
      '40P01',
      '55P03',
      'ECONNRESET',
      'ECONNREFUSED',
      'EPIPE',
      'ETIMEDOUT',
    ]) {
      expect(isTransient(coded(code)), code).to.equal(true);
    }
    expect(isTransient(new Error('wrapped', { cause: new Error('outer', { cause: coded('ECONNRESET') }) }))).to.equal(
      true,
    );
    expect(isTransient(new Error('Connection terminated unexpectedly'))).to.equal(true);
    expect(isTransient(new Error('Connection is closed.'))).to.equal(true);
    expect(isTransient(new TypeError('fetch failed'))).to.equal(true);
  });

  it('takes the projector’s own failures as poison: constraint violations, bad data, bugs', () => {
    for (const code of ['23502', '23505', '22P02', '42703']) expect(isTransient(coded(code)), code).to.equal(false);
    expect(isTransient(new TypeError("Cannot read properties of undefined (reading 'lat')"))).to.equal(false);
    expect(isTransient(new Error('load has no origin'))).to.equal(false);
    expect(isTransient('a string')).to.equal(false);
    expect(isTransient(undefined)).to.equal(false);
  });

  it('reads PROJECTION_POISON_POLICY as one policy for all, or per projector, and refuses anything else', () => {
    expect(loadConfig({ PROJECTION_POISON_POLICY: 'stop' }).PROJECTION_POISON_POLICY).to.deep.equal({ '*': 'stop' });
    expect(
      loadConfig({ PROJECTION_POISON_POLICY: 'ledger=park, load_board=stop ,*=park' }).PROJECTION_POISON_POLICY,
    ).to.deep.equal({
      ledger: 'park',
      load_board: 'stop',
      '*': 'park',
    });
    expect(loadConfig({}).PROJECTION_POISON_POLICY).to.equal(undefined);
    for (const bad of ['skip', 'ledger=', 'ledger:stop', 'Ledger=stop', 'stop;park'])
      expect(() => loadConfig({ PROJECTION_POISON_POLICY: bad }), bad).to.throw(/PROJECTION_POISON_POLICY/);
  });
});
