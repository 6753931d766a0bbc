/**
 * Refusals a decider gives, with an HTTP status and a stable problem type. Pure: the HTTP layer
 * renders them as problem+json.
 */
export class DomainError extends Error {
  constructor(
    readonly status: 409 | 422 | 403 | 404,
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The command is not allowed in the aggregate's current state. */
export class IllegalTransition extends DomainError {
  constructor(message: string) {
    super(409, 'urn:freight:problem:illegal-transition', message);
  }
}

/** The command breaks a business rule whatever the state (limits, windows, eligibility). */
export class RuleViolation extends DomainError {
  constructor(code: string, message: string) {
    super(422, `urn:freight:problem:${code}`, message);
  }
}

/** The actor may not do this to this aggregate (another organisation's load, a role it lacks). */
export class Forbidden extends DomainError {
  constructor(message: string) {
    super(403, 'urn:freight:problem:forbidden', message);
  }
}

/**
 * The aggregate does not exist, or the actor may not see it: the two answer alike, as a read of
 * it would, so that an outsider learns nothing from trying.
 */
export class NotFound extends DomainError {
  constructor(message: string) {
    super(404, 'urn:freight:problem:not-found', message);
  }
}
