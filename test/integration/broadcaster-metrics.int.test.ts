import { expect } from 'chai';
import { Metrics } from '../../src/infra/metrics.js';
import { createRedis } from '../../src/infra/redis.js';
import { channelKey, RedisBroadcaster } from '../../src/realtime/broadcaster.js';
import { testServices, uniquePrefix } from '../support/services.js';

describe('Counting broadcast messages', () => {
  it('counts each message once by event, and none for a message with no room', async () => {
    const prefix = `${uniquePrefix('bc')}:`;
    const redis = createRedis((await testServices()).redisUrl, prefix);
    const metrics = new Metrics();
    try {
      const b = new RedisBroadcaster(
        redis,
        channelKey(prefix),
        () => {},
        (event) => metrics.socketMessages.inc({ event }),
      );
      b.emit(['load:1', 'org:2'], 'load', { loadId: '1' });
      b.emit(['tracking:1'], 'location', { loadId: '1' });
      b.emit([], 'load', { loadId: '3' });
      const text = await metrics.text();
      expect(text).to.match(/socketio_messages_total\{event="load"\} 1/);
      expect(text).to.match(/socketio_messages_total\{event="location"\} 1/);
    } finally {
      redis.disconnect();
    }
  });
});
