import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/infra/config.js';

describe('Loading configuration', () => {
  it('applies defaults when nothing is set', () => {
    const c = loadConfig({});
    expect(c.PORT).to.equal(3000);
    expect(c.DATABASE_URL).to.equal(undefined);
    expect(c.EVENTSTORE_GROUP_COMMIT).to.equal(true);
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ DATABASE_URL: '' }).DATABASE_URL).to.equal(undefined);
  });

  it('names the variable whose value is wrong', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).to.throw(ConfigError, /PORT/);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).to.throw(ConfigError, /DATABASE_URL/);
    expect(() => loadConfig({ LOG_LEVEL: 'loud', REDIS_URL: 'http://x' })).to.throw(
      ConfigError,
      /LOG_LEVEL.*REDIS_URL/,
    );
  });

  it('parses booleans and numbers', () => {
    const c = loadConfig({ EVENTSTORE_GROUP_COMMIT: 'false', PROJECTION_BATCH_SIZE: '250' });
    expect(c.EVENTSTORE_GROUP_COMMIT).to.equal(false);
    expect(c.PROJECTION_BATCH_SIZE).to.equal(250);
  });
});
