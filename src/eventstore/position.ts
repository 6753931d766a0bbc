import type { Position } from './types.js';

export const START: Position = Object.freeze({ commit: 0n, prepare: 0n });

export function comparePositions(a: Position, b: Position): -1 | 0 | 1 {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

/** Positions travel as text, "commit/prepare", in HTTP answers and checkpoints. */
export function formatPosition(p: Position): string {
  return `${p.commit}/${p.prepare}`;
}

const POSITION_TEXT = /^(\d{1,20})\/(\d{1,20})$/;

export function parsePosition(text: string): Position {
  const m = POSITION_TEXT.exec(text.trim());
  if (!m) throw new RangeError(`Not a position: "${text}" (expected "commit/prepare")`);
  return { commit: BigInt(m[1]!), prepare: BigInt(m[2]!) };
}
