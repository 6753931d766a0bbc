import type { Context } from 'koa';
import { HttpProblem, PROBLEM_BASE } from './errors.js';

/** What a JSON body may hold: generous for any route's payload, far below what costs anything. */
export interface BodyLimits {
  /** Bytes, checked against Content-Length before reading and while reading. */
  maxBytes: number;
  /** Nesting of arrays and objects (a ping batch is 3 deep). */
  maxDepth: number;
  /** Values in all (array elements and object members), counted from the text before parsing. */
  maxItems: number;
}

export const DEFAULT_BODY_LIMITS: Omit<BodyLimits, 'maxBytes'> = { maxDepth: 16, maxItems: 20_000 };

const bad = (type: string, detail: string, extra: Record<string, unknown> = {}) =>
  new HttpProblem(400, `${PROBLEM_BASE}${type}`, detail, extra);

/** Whether the request carries a body at all (a declared length above zero, or a chunked one). */
export function hasBody(ctx: Context): boolean {
  const length = ctx.get('content-length');
  if (length !== '') return Number(length) > 0;
  return ctx.get('transfer-encoding') !== '';
}

/**
 * Reads a JSON body under the given limits, before anything is parsed: 413 past `maxBytes` (from
 * Content-Length at once), 415 for anything but `application/json` in UTF-8, 400 for bytes that are
 * not UTF-8, text nested or repeated past the limits (scanned before `JSON.parse`, so a deep body
 * costs a linear scan and never a deep recursion anywhere after), text that is not JSON, and any
 * string or key that Postgres cannot store (NUL, unpaired surrogates). No body: `undefined`.
 */
export async function readJsonBody(ctx: Context, limits: BodyLimits): Promise<unknown> {
  if (!hasBody(ctx)) return undefined;
  if (!ctx.is('application/json')) {
    throw new HttpProblem(415, `${PROBLEM_BASE}unsupported-media-type`, 'Send the body as application/json (UTF-8)');
  }
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(ctx.get('content-type'))?.[1]?.toLowerCase();
  if (charset && charset !== 'utf-8' && charset !== 'utf8') {
    throw new HttpProblem(415, `${PROBLEM_BASE}unsupported-media-type`, 'Send the body as application/json in UTF-8');
  }
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limits.maxBytes) throw tooLarge(ctx, limits.maxBytes);
  // The client waits for a go-ahead before sending the body: given only now that it will be read.
  if (/100-continue/i.test(ctx.get('expect')) && !(ctx.res as { _sent100?: boolean })._sent100) ctx.res.writeContinue();
  const raw = await readRaw(ctx, limits.maxBytes);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(raw);
  } catch {
    throw bad('malformed-body', 'The body is not valid UTF-8');
  }
  if (text.trim() === '') return undefined;
  checkShape(text, limits);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw bad('malformed-body', `The body is not valid JSON: ${(err as Error).message}`);
  }
  const where = unstorableText(value);
  if (where !== undefined) throw unstorable(`body${where}`);
  return value;
}

function tooLarge(ctx: Context, maxBytes: number): HttpProblem {
  // The rest of the body is not read: the connection cannot carry another request after it.
  ctx.set('Connection', 'close');
  return new HttpProblem(
    413,
    `${PROBLEM_BASE}payload-too-large`,
    `This request's body may be at most ${Math.floor(maxBytes / 1024)} KiB`,
  );
}

function readRaw(ctx: Context, maxBytes: number): Promise<Buffer> {
  const req = ctx.req;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        req.pause();
        reject(tooLarge(ctx, maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new HttpProblem(400, `${PROBLEM_BASE}malformed-body`, `The body could not be read: ${err.message}`));
    };
    const onAborted = () => onError(new Error('the client went away'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

/**
 * Depth and item count of JSON text, counted outside strings in one pass. Structural characters
 * inside strings do not count; text that is not JSON is left for JSON.parse to refuse.
 */
export function checkShape(text: string, limits: Pick<BodyLimits, 'maxDepth' | 'maxItems'>): void {
  let depth = 0;
  let items = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limits.maxDepth)
        throw bad('body-too-deep', `The body nests arrays and objects more than ${limits.maxDepth} deep`);
      if (++items > limits.maxItems) throw tooMany(limits.maxItems);
    } else if (c === 0x5d || c === 0x7d) depth--;
    else if (c === 0x2c && ++items > limits.maxItems) throw tooMany(limits.maxItems);
  }
}

const tooMany = (max: number) => bad('body-too-many-items', `The body holds more than ${max} values`);

// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A string Postgres can store in text and jsonb: no NUL, no unpaired UTF-16 surrogate. */
export function storable(s: string): boolean {
  return !UNSTORABLE.test(s);
}

export function unstorable(field: string): HttpProblem {
  return bad('unstorable-text', `${field} holds a NUL character or an unpaired surrogate, which cannot be stored`, {
    field,
  });
}

/**
 * The path (`.pings.3.id`, `[0]`) of the first string or key that cannot be stored, or undefined.
 * Iterative: the value may be as deep as the limits allow without costing stack.
 */
export function unstorableText(value: unknown): string | undefined {
  const stack: { v: unknown; path: string }[] = [{ v: value, path: '' }];
  while (stack.length) {
    const { v, path } = stack.pop()!;
    if (typeof v === 'string') {
      if (!storable(v)) return path;
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push({ v: v[i], path: `${path}.${i}` });
    } else if (v !== null && typeof v === 'object') {
      for (const [k, inner] of Object.entries(v)) {
        if (!storable(k)) return `${path}.${k.replace(/[^\x20-\x7e]/g, '?')}`;
        stack.push({ v: inner, path: `${path}.${k}` });
      }
    }
  }
  return undefined;
}
