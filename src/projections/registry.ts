import { streamIndexProjector } from './stream-index/projector.js';
import type { Projector } from './types.js';

/** Every projector the service runs. Later read models register here. */
export function allProjectors(): Projector[] {
  return [streamIndexProjector];
}
