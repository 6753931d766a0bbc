import { expect } from 'chai';
import { aimFromText, aimResults, markdown, median, ratio, type Row, summary } from '../../bench/lib/report.js';

describe('Benchmark results (bench/lib/report.ts)', () => {
  const meta = { at: 'now', machine: 'test box', quick: false, runs: 3, versions: [], scenarios: ['x'] };

  it('summarises runs as median and spread, ignoring failed (non-finite) runs', () => {
    expect(median([3, 1, 2])).to.equal(2);
    expect(median([4, 1, 3, 2])).to.equal(2.5);
    expect(summary([5, NaN, 1, 3])).to.deep.equal({ median: 3, min: 1, max: 5, runs: 3 });
  });

  it('writes ratios so that above 1 is better, for throughputs and for latencies', () => {
    const fast: Row = {
      scenario: 's',
      case: 'c',
      unit: 'events/s',
      better: 'higher',
      ours: [900, 1000, 1100],
      ceiling: { name: 'raw', values: [500, 500, 500] },
    };
    expect(ratio(fast, fast.ceiling)).to.equal(2);
    const lat: Row = {
      scenario: 's',
      case: 'c',
      unit: 'ms',
      better: 'lower',
      ours: [5, 5, 5],
      peer: { name: 'peer', values: [50, 50, 50] },
    };
    expect(ratio(lat, lat.peer)).to.equal(10);
    expect(ratio(lat, undefined)).to.equal(undefined);
  });

  it('checks each aim: ratios to the ceiling or the peer, and bounds on the value', () => {
    const row: Row = {
      scenario: 's',
      case: 'c',
      unit: 'events/s',
      better: 'higher',
      ours: [950],
      ceiling: { name: 'raw', values: [1000] },
      peer: { name: 'peer', values: [500] },
      aims: [{ of: 'ceiling', atLeast: 0.9 }, { of: 'peer', atLeast: 2.5 }, { value: 1000 }],
    };
    expect(aimResults(row)).to.deep.equal([
      { text: '≥ 0.9× ceiling', met: true },
      { text: '≥ 2.5× peer', met: false },
      { text: '≥ 1,000 events/s', met: false },
    ]);
    const p99: Row = {
      scenario: 's',
      case: 'p99',
      unit: 'ms',
      better: 'lower',
      ours: [12, 30, 15],
      aims: [{ value: 20, atMost: true }],
    };
    expect(aimResults(p99)).to.deep.equal([{ text: '≤ 20.0 ms', met: true }]);
  });

  it('prints one table line per row with the spread, ratios and aims', () => {
    const md = markdown(
      [
        {
          scenario: 'event store',
          case: 'append',
          unit: 'events/s',
          better: 'higher',
          ours: [900, 1000, 1100],
          ceiling: { name: 'raw', values: [500] },
          aims: [{ of: 'ceiling', atLeast: 1.5 }],
          note: 'every event read back',
        },
      ],
      meta,
    );
    const line = md.split('\n').find((l) => l.startsWith('| event store'))!;
    expect(line).to.match(/\| 1,000 +\| 900–1,100 +\| events\/s \| raw +\| 500 +\| 2\.00× /);
    expect(line).to.match(/≥ 1\.5× ceiling \| yes/);
    expect(md).to.include('- event store / append: every event read back');
  });

  it('reads an aim back from its printed text, for rows merged from an earlier results file', () => {
    const row: Row = { scenario: 's', case: 'c', unit: 'pings/s', better: 'higher', ours: [1] };
    for (const aim of [
      { of: 'ceiling' as const, atLeast: 0.5 },
      { of: 'peer' as const, atLeast: 2.5 },
      { value: 20_000 },
      { value: 10, atMost: true },
    ]) {
      const [printed] = aimResults({
        ...row,
        unit: 'value' in aim ? (aim.atMost ? 'ms' : 'pings/s') : 'events/s',
        aims: [aim],
      });
      expect(aimFromText(printed!.text)).to.deep.equal(aim);
    }
    expect(aimFromText('whatever')).to.equal(undefined);
  });
});
