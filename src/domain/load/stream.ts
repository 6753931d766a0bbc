/** Where a load's events live: one stream per load, `load-<id>`. Everyone else names it through here. */
export const LOAD_STREAM = 'load-';
export const loadStream = (loadId: string) => `${LOAD_STREAM}${loadId}`;
/** The load's id in one of its stream's ids. */
export const loadIdOf = (streamId: string) => streamId.slice(LOAD_STREAM.length);
