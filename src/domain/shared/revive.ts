import type { z } from 'zod';

/** Turns stored JSON into the decoded shape; `undefined` when nothing needs turning. */
export type Reviver = (value: unknown) => unknown;

/** The slice of zod's internal definition that the compiler reads. */
interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  innerType?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  in?: z.ZodType;
  out?: z.ZodType;
  transform?: (value: unknown, payload: unknown) => unknown;
  reverseTransform?: unknown;
  defaultValue?: unknown;
}
const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;

/** Types whose decoded value is their stored JSON value (dates and bigints: as the output side of a codec). */
const PLAIN = new Set([
  'string',
  'number',
  'int',
  'boolean',
  'bigint',
  'date',
  'null',
  'any',
  'unknown',
  'enum',
  'literal',
  'template_literal',
]);

/** A reviver that could not be compiled: the schema holds something only zod can decode. */
const NO = Symbol('no');
type Compiled = Reviver | undefined | typeof NO;

function compile(schema: z.ZodType): Compiled {
  const def = defOf(schema);
  if (PLAIN.has(def.type)) return undefined;
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'readonly': {
      const inner = compile(def.innerType!);
      if (inner === NO || inner === undefined) return inner;
      return (v) => (v === undefined || v === null ? v : inner(v));
    }
    case 'default': {
      const inner = compile(def.innerType!);
      if (inner === NO) return NO;
      // zod's definition hands out a fresh (shallow) copy of the default on each read.
      return (v) => (v === undefined ? def.defaultValue : inner ? inner(v) : v);
    }
    case 'object': {
      // Objects with unknown keys kept (loose / catchall) are left to zod.
      if (def.catchall && defOf(def.catchall).type !== 'never') return NO;
      const fields: [string, Reviver | undefined][] = [];
      for (const [key, field] of Object.entries(def.shape!)) {
        const r = compile(field);
        if (r === NO) return NO;
        fields.push([key, r]);
      }
      // As zod: known keys only; an absent optional key stays absent.
      return (v) => {
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TypeError('not an object');
        const src = v as Record<string, unknown>;
        const out: Record<string, unknown> = {};
        for (const [key, r] of fields) {
          const x = r ? r(src[key]) : src[key];
          if (x !== undefined) out[key] = x;
        }
        return out;
      };
    }
    case 'array': {
      const element = compile(def.element!);
      if (element === NO) return NO;
      return (v) => {
        if (!Array.isArray(v)) throw new TypeError('not an array');
        return element ? v.map(element) : [...v];
      };
    }
    case 'union':
      // Unions decode as they are stored, unless a member would transform: then zod picks the member.
      return def.options!.every((o) => compile(o) === undefined) ? undefined : NO;
    case 'pipe': {
      // Codecs (z.codec: dates, bigints): their decode, between their input and output schemas.
      if (!def.transform || !def.reverseTransform) return NO;
      const from = compile(def.in!);
      const to = compile(def.out!);
      if (from === NO || to === NO) return NO;
      const decode = def.transform;
      return (v) => {
        const x = decode(from ? from(v) : v, { value: v, issues: [] });
        if (x instanceof Promise) throw new TypeError('asynchronous codec');
        return to ? to(x) : x;
      };
    }
    default:
      return NO;
  }
}

/**
 * Compiles a schema into a function that decodes stored JSON without checking it: only its codecs
 * (ISO text to Date, decimal text to bigint), defaults and the stripping of unknown keys. Stored
 * events were checked against the same schema version when they were encoded, so reading them
 * back needs only the transforms, at a tenth of the cost of a full decode (profiled: zod's checks
 * were 12% of a load-board rebuild). Undefined when the schema holds something it cannot do
 * exactly as zod would (transforms, catchalls, unions of codecs, lazy types…): those decode with zod.
 */
export function compileReviver(schema: z.ZodType): Reviver | undefined {
  const r = compile(schema);
  if (r === NO) return undefined;
  return r ?? ((v) => v);
}
