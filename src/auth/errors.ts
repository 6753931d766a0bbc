/** No valid credentials: 401 with a WWW-Authenticate challenge. */
export class Unauthorized extends Error {
  readonly status = 401;
  readonly type = 'urn:freight:problem:unauthorized';
  constructor(message: string) {
    super(message);
    this.name = 'Unauthorized';
  }
}

/** Valid credentials, not allowed: a role it lacks, another organisation's data, a suspended account. */
export class AccessDenied extends Error {
  readonly status = 403;
  readonly type = 'urn:freight:problem:forbidden';
  constructor(message: string) {
    super(message);
    this.name = 'AccessDenied';
  }
}

/** The check cannot be answered yet (the organisations read model is still being built). */
export class NotReady extends Error {
  readonly status = 503;
  readonly type = 'urn:freight:problem:not-ready';
  constructor(message: string) {
    super(message);
    this.name = 'NotReady';
  }
}
