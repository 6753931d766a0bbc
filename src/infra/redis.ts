import { Redis } from 'ioredis';

export { Redis };

export function createRedis(url: string, keyPrefix: string): Redis {
  return new Redis(url, { keyPrefix, lazyConnect: false, maxRetriesPerRequest: 3, enableAutoPipelining: true });
}
