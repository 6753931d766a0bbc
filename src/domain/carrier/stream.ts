/** Where a carrier's events live: one stream per carrier, `carrier-<id>`. Everyone else names it through here. */
export const CARRIER_STREAM = 'carrier-';
export const carrierStream = (carrierId: string) => `${CARRIER_STREAM}${carrierId}`;
/** The carrier's id in one of its stream's ids. */
export const carrierIdOf = (streamId: string) => streamId.slice(CARRIER_STREAM.length);
