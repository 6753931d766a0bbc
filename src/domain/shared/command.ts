import type { Actor } from './actor.js';

/** Every command carries who issues it and the time: deciders read no clock. */
export interface CommandMetadata {
  readonly now: Date;
  readonly actor: Actor;
}

/** A command as deciders receive it. */
export type Command<T extends string, D> = {
  readonly type: T;
  readonly data: Readonly<D>;
  readonly metadata: CommandMetadata;
};
