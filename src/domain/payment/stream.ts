import { v5 as uuidv5 } from 'uuid';

/** Where a settlement's events live: one stream per payment, `payment-<id>`. Everyone else names it through here. */
export const PAYMENT_STREAM = 'payment-';
export const paymentStream = (paymentId: string) => `${PAYMENT_STREAM}${paymentId}`;
/** The payment's id in one of its stream's ids. */
export const paymentIdOf = (streamId: string) => streamId.slice(PAYMENT_STREAM.length);

const NS = '5b0a9f7e-1c2d-4e3f-8a9b-0c1d2e3f4a5b';
/** One settlement per load: its id derives from the load's. */
export const paymentIdForLoad = (loadId: string) => uuidv5(`payment:${loadId}`, NS);
