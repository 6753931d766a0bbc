import { AsyncLocalStorage } from 'node:async_hooks';

/** What one unit of work (an HTTP request, a job, a projection batch) carries for logs and event metadata. */
export interface RequestContext {
  requestId?: string;
  correlationId?: string;
  causationId?: string;
  actor?: string;
  [key: string]: string | undefined;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function runWithContext<T>(ctx: RequestContext, fn: () => T): T {
  return storage.run({ ...storage.getStore(), ...ctx }, fn);
}

export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}
