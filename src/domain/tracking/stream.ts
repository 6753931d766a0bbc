/** Where a load's GPS pings live: one stream per load, `tracking-<loadId>`, apart from the load's own. */
export const TRACKING_STREAM = 'tracking-';
export const trackingStream = (loadId: string) => `${TRACKING_STREAM}${loadId}`;
/** The load's id in one of its tracking stream's ids. */
export const trackedLoadIdOf = (streamId: string) => streamId.slice(TRACKING_STREAM.length);
