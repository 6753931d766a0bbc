import { Writable } from 'node:stream';
import { expect } from 'chai';
import winston from 'winston';
import { runWithContext } from '../../src/infra/context.js';
import { createLogger } from '../../src/infra/logger.js';

function capture(format: 'json' | 'pretty') {
  const lines: string[] = [];
  const logger = createLogger({ LOG_LEVEL: 'info', LOG_FORMAT: format, NODE_ENV: 'production' });
  logger.clear();
  logger.add(
    new winston.transports.Stream({
      stream: new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(chunk.toString().trim());
          done();
        },
      }),
    }),
  );
  return { logger, lines };
}

describe('The logger', () => {
  it('writes JSON lines carrying the request and correlation ids of the current context', async () => {
    const { logger, lines } = capture('json');
    await runWithContext({ requestId: 'req-1', correlationId: 'corr-1' }, async () => {
      await new Promise((r) => setImmediate(r));
      logger.info('appended', { stream: 'load-1' });
    });
    logger.info('outside');
    const [inside, outside] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(inside).to.include({
      message: 'appended',
      stream: 'load-1',
      requestId: 'req-1',
      correlationId: 'corr-1',
      level: 'info',
    });
    expect(inside!.timestamp).to.be.a('string');
    expect(outside).to.not.have.property('requestId');
  });

  it('spells out errors instead of logging them as {}', () => {
    const { logger, lines } = capture('json');
    logger.error('failed', { err: new Error('disk full') });
    const line = JSON.parse(lines[0]!) as { err: { message: string; stack: string } };
    expect(line.err.message).to.equal('disk full');
    expect(line.err.stack).to.include('logger.unit.test');
  });

  it('writes readable lines in development', () => {
    const { logger, lines } = capture('pretty');
    logger.info('listening', { port: 3000 });
    expect(lines[0]).to.match(/listening \{"port":3000\}/);
  });

  it('never writes secrets, tokens or card numbers, whatever the key or the nesting', () => {
    const { logger, lines } = capture('json');
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJlLWJ5dGVz';
    logger.warn('stripe webhook refused', {
      authorization: `Bearer ${jwt}`,
      headers: { Authorization: `Bearer ${jwt}`, cookie: 'queue_board_token=abc' },
      detail: `called with Bearer ${jwt} and sk_live_51HxYzABCdef and whsec_abc123 at https://mobile.fmcsa.dot.gov/qc/services/carriers/1?webKey=k3y-value&x=1`,
      card: { number: '4242 4242 4242 4242', cvc: '123', exp_month: 12 },
      note: 'customer said their card is 4000-0566-5566-5556',
      password: 'hunter2',
      err: new Error(`token ${jwt} rejected`),
      // Not secrets: a USDOT number, a timestamp in ms, a position.
      usdotNumber: '1234567',
      at: '1795427446307',
      position: '1234/0',
    });
    const line = lines[0]!;
    for (const secret of [
      jwt,
      'sk_live_51HxYzABCdef',
      'whsec_abc123',
      'k3y-value',
      '4242 4242 4242 4242',
      '4000-0566-5566-5556',
      'hunter2',
      'queue_board_token=abc',
      '"123"',
    ]) {
      expect(line, secret).to.not.include(secret);
    }
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(parsed).to.include({
      usdotNumber: '1234567',
      at: '1795427446307',
      position: '1234/0',
      password: '[REDACTED]',
    });
    expect(parsed.note).to.equal('customer said their card is [REDACTED CARD]');
  });
});
