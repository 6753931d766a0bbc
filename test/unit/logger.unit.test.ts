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
    expect(inside).to.include({ message: 'appended', stream: 'load-1', requestId: 'req-1', correlationId: 'corr-1', level: 'info' });
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
});
