import type { Knex } from 'knex';
import type { Redis } from 'ioredis';
import { ActivePrincipals } from '../auth/principals.js';
import type { Config } from '../infra/config.js';
import { carrierDirectoryProjector } from './carrier-directory/projector.js';
import { loadBoardProjector } from './load-board/projector.js';
import { organisationsProjector } from './organisations/projector.js';
import { principalsProjector } from './principals/projector.js';
import { streamIndexProjector } from './stream-index/projector.js';
import type { Projector } from './types.js';

export interface ProjectorDeps {
  principals: ActivePrincipals;
}

/** Every projector the service runs. Later read models register here. */
export function allProjectors(deps: ProjectorDeps): Projector[] {
  return [streamIndexProjector, organisationsProjector, principalsProjector(deps.principals), loadBoardProjector, carrierDirectoryProjector];
}

/** The projectors of a running process, wired to its connections. */
export function projectorsFor(runtime: { knex: Knex; redis: Redis; config: Pick<Config, 'PLATFORM_ORG_ID'> }): Projector[] {
  return allProjectors({ principals: new ActivePrincipals({ redis: runtime.redis, knex: runtime.knex, platformOrgId: runtime.config.PLATFORM_ORG_ID }) });
}
