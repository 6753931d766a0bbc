import { inspect, isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { compileReviver, type Reviver } from './revive.js';

/**
 * Every event type has a zod schema (the current shape) and a schema version, stored in each
 * event's metadata. Upcasters turn a stored older shape into the next one when read, so old
 * history is never rewritten. Pure: no IO, usable from deciders, projectors and HTTP.
 */
export interface EventDefinition<Type extends string = string, Schema extends z.ZodType = z.ZodType> {
  readonly type: Type;
  readonly version: number;
  readonly schema: Schema;
  /** upcasters[n] turns data stored at version n into the shape of version n + 1. */
  readonly upcasters: Readonly<Record<number, (data: unknown) => unknown>>;
}

export function defineEvent<Type extends string, Schema extends z.ZodType>(def: {
  type: Type;
  schema: Schema;
  version?: number;
  upcasters?: Record<number, (data: unknown) => unknown>;
}): EventDefinition<Type, Schema> {
  const version = def.version ?? 1;
  const upcasters = def.upcasters ?? {};
  for (let v = 1; v < version; v++) {
    if (!upcasters[v]) throw new Error(`${def.type}: version ${version} needs an upcaster from version ${v}`);
  }
  return { type: def.type, version, schema: def.schema, upcasters };
}

export class EventSchemaError extends Error {
  readonly status = 422;
  readonly type = 'urn:freight:problem:event-schema';
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'EventSchemaError';
  }
}

export interface StoredShape {
  readonly type: string;
  readonly data: unknown;
  readonly metadata: { readonly schemaVersion?: number; readonly [k: string]: unknown };
}

export class EventRegistry {
  /**
   * Tests set this: every fast decode is also decoded by zod and a difference throws, so the
   * whole suite checks the compiled revivers against zod on every event it reads.
   */
  static verifyFastDecode = false;

  private readonly byType = new Map<string, EventDefinition>();
  private readonly revivers = new Map<string, Reviver | undefined>();

  constructor(definitions: readonly EventDefinition[] = []) {
    for (const d of definitions) this.register(d);
  }

  register(def: EventDefinition): this {
    if (this.byType.has(def.type)) throw new Error(`Event type ${def.type} is defined twice`);
    this.byType.set(def.type, def);
    this.revivers.set(def.type, compileReviver(def.schema));
    return this;
  }

  has(type: string): boolean {
    return this.byType.has(type);
  }

  types(): string[] {
    return [...this.byType.keys()];
  }

  definition(type: string): EventDefinition {
    const def = this.byType.get(type);
    if (!def) throw new EventSchemaError(`Unknown event type ${type}`);
    return def;
  }

  /** Validates `data` against the current schema; returns its JSON form and the schema version. */
  encode(type: string, data: unknown): { data: unknown; schemaVersion: number } {
    const def = this.definition(type);
    const result = z.safeEncode(def.schema, data as never);
    if (!result.success) throw new EventSchemaError(`${type}: ${z.prettifyError(result.error)}`, result.error);
    return { data: result.data, schemaVersion: def.version };
  }

  /**
   * Brings stored data to the current shape (upcasting older versions) and decodes it. Data stored
   * at the current version was checked when it was encoded: it is only revived (codecs, defaults),
   * not checked again, when the schema allows (see compileReviver); upcast data is checked in full.
   */
  decode<T = unknown>(event: StoredShape): T {
    const def = this.definition(event.type);
    const stored = event.metadata.schemaVersion ?? 1;
    if (!Number.isInteger(stored) || stored < 1)
      throw new EventSchemaError(`${event.type}: bad schema version ${stored}`);
    if (stored > def.version) {
      throw new EventSchemaError(
        `${event.type}: stored at schema version ${stored}, newer than this code's ${def.version}`,
      );
    }
    const revive = stored === def.version ? this.revivers.get(def.type) : undefined;
    if (revive) {
      let fast: unknown;
      try {
        fast = revive(event.data);
      } catch {
        // Not the stored shape at all: let zod say what is wrong with it.
        return this.checkedDecode(def, event.type, stored, event.data);
      }
      if (EventRegistry.verifyFastDecode) {
        const checked = this.checkedDecode(def, event.type, stored, event.data);
        if (!isDeepStrictEqual(fast, checked)) {
          throw new Error(
            `${event.type}: the compiled decode gave ${inspect(fast)} where zod gave ${inspect(checked)}`,
          );
        }
      }
      return fast as T;
    }
    return this.checkedDecode(def, event.type, stored, event.data);
  }

  private checkedDecode<T>(def: EventDefinition, type: string, stored: number, storedData: unknown): T {
    let data = storedData;
    for (let v = stored; v < def.version; v++) data = def.upcasters[v]!(data);
    const result = z.safeDecode(def.schema, data as never);
    if (!result.success)
      throw new EventSchemaError(`${type} v${stored}: ${z.prettifyError(result.error)}`, result.error);
    return result.data as T;
  }
}

/** The union of `{ type, data }` for a list of definitions: how deciders see their events. */
export type EventsOf<Defs extends readonly EventDefinition[]> = Defs[number] extends infer D
  ? D extends { type: infer T; schema: infer S extends z.ZodType }
    ? { readonly type: T; readonly data: Readonly<z.output<S>> }
    : never
  : never;
