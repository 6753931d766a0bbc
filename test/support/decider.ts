import { expect } from 'chai';

/**
 * given(events).when(command).then(events) / .thenThrows(ErrorClass, /message/): decider tests
 * that read like the rule they check.
 */
export function specification<C, E, S>(decider: { decide(c: C, s: S): E[]; evolve(s: S, e: E): S; initialState: S }) {
  return (given: readonly E[]) => ({
    when: (command: C) => {
      const run = () => decider.decide(command, given.reduce(decider.evolve, decider.initialState));
      return {
        then: (expected: readonly E[]) => expect(run()).to.deep.equal(expected),
        thenThrows: (errorClass: new (...args: never[]) => Error, message?: RegExp) =>
          expect(run).to.throw(errorClass as never, message),
      };
    },
  });
}
