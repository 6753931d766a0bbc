import { expect } from 'chai';
import { decodeJwt } from 'jose';
import { spawnCli } from '../support/process.js';

/** `npm run token`: a development token, or one line and the usage for what it cannot read. */
describe('The token CLI', () => {
  const run = async (args: string[]) => {
    const p = spawnCli('token', args, {});
    const { code } = await p.exited;
    return { code, out: p.output() };
  };

  it('prints its usage for --help, and refuses an unknown option with one line and the usage, no stack', async () => {
    const help = await run(['--help']);
    expect(help.code).to.equal(0);
    expect(help.out).to.match(/^usage: npm run token/m);
    const bogus = await run(['--bogus']);
    expect(bogus.code).to.equal(2);
    expect(bogus.out).to.include("Unknown option '--bogus'");
    expect(bogus.out).to.match(/^usage: npm run token/m);
    expect(bogus.out).to.not.match(/\n\s+at /);
  });

  it('mints a staff token', async () => {
    const { code, out } = await run(['--role', 'admin']);
    expect(code).to.equal(0);
    const token = out.split('\n').find((l) => l.startsWith('ey'))!;
    expect(decodeJwt(token).roles).to.deep.equal(['admin']);
  });
});
