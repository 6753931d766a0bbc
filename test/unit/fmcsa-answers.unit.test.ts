import { expect } from 'chai';
import { carrierOf, docketDigits, flag, outOfServiceOf, records } from '../../src/integrations/fmcsa/answers.js';
import { limiterFor } from '../../src/jobs/workers.js';

describe('Reading FMCSA QCMobile answers', () => {
  it('finds the records whatever shape content takes', () => {
    expect(records({ content: { carrier: { dotNumber: 1 } } }, 'carrier')).to.deep.equal([{ dotNumber: 1 }]);
    expect(
      records({ content: [{ carrier: { dotNumber: 1 } }, { carrier: { dotNumber: 2 } }] }, 'carrier'),
    ).to.have.length(2);
    expect(records({ content: null })).to.deep.equal([]);
    expect(records({ content: [] })).to.deep.equal([]);
    expect(records('<html>')).to.deep.equal([]);
  });

  it('reads flags as Y/N, booleans or words, and anything else as unknown', () => {
    expect([flag('Y'), flag('n'), flag(true), flag('false'), flag('u'), flag(null)]).to.deep.equal([
      true,
      false,
      true,
      false,
      undefined,
      undefined,
    ]);
  });

  it('reads a carrier: either spelling of the operating flag, numbers as text, amounts in thousands', () => {
    const c = carrierOf({
      dotNumber: 123,
      legalName: ' ACME ',
      allowToOperate: 'Y',
      bipdInsuranceOnFile: '1,000',
      bipdRequiredAmount: 750,
      commonAuthorityStatus: 'A',
      oosDate: '',
    });
    expect(c).to.deep.equal({
      dotNumber: '123',
      legalName: 'ACME',
      allowedToOperate: true,
      bipdOnFileCents: 100_000_000,
      bipdRequiredCents: 75_000_000,
      commonAuthority: 'A',
    });
    // Without the flag, a carrier is not taken to be allowed to operate.
    expect(carrierOf({ dotNumber: '0042', legalName: 'X' })).to.deep.include({
      dotNumber: '42',
      allowedToOperate: false,
    });
    expect(carrierOf({ legalName: 'no number' })).to.equal(undefined);
  });

  it('counts an out-of-service order as active until it is rescinded', () => {
    expect(outOfServiceOf({ oosDate: '2026-01-01', oosReason: 'Imminent hazard' })).to.deep.equal({
      oosDate: '2026-01-01',
      reason: 'Imminent hazard',
      active: true,
    });
    expect(outOfServiceOf({ oosDate: '2026-01-01', oosRescindedDate: '2026-02-01' }).active).to.equal(false);
  });

  it('asks the docket lookup for digits only', () => {
    expect([docketDigits('MC-012345'), docketDigits('mc123'), docketDigits('98765')]).to.deep.equal([
      '12345',
      '123',
      '98765',
    ]);
  });
});

describe('The FMCSA rate limit', () => {
  it('counts in windows of a tenth of a second, or one check per window when slower', () => {
    expect(limiterFor(300)).to.deep.equal({ max: 30, duration: 100 });
    expect(limiterFor(2)).to.deep.equal({ max: 1, duration: 500 });
    expect(limiterFor(0.5)).to.deep.equal({ max: 1, duration: 2_000 });
  });
});
