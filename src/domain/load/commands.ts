import type { CarrierStanding } from '../carrier/eligibility.js';
import type { Command } from '../shared/command.js';
import type { LocationPolicy, TruckFix } from './location.js';
import type { LoadDetails, TimeWindow } from './schemas.js';

export type PostLoad = Command<'PostLoad', LoadDetails & { loadId: string }>;
export type ReviseLoad = Command<
  'ReviseLoad',
  { rateCents?: number; pickupWindow?: TimeWindow; deliveryWindow?: TimeWindow }
>;
export type PlaceBid = Command<'PlaceBid', { bidId: string; carrier: CarrierStanding; amountCents: number }>;
export type WithdrawBid = Command<'WithdrawBid', { bidId: string }>;
export type AcceptBid = Command<'AcceptBid', { bidId: string; carrier: CarrierStanding }>;
export type BookNow = Command<'BookNow', { carrier: CarrierStanding }>;
export type AssignDriver = Command<'AssignDriver', { driverId: string; truckId: string; trailerId?: string }>;
/** The truck's last fix and the policy come with the command (deciders do no IO). */
export type ConfirmPickup = Command<'ConfirmPickup', { truckFix?: TruckFix; policy?: LocationPolicy }>;
/** The geofence reactor saw the truck near a site. */
export type RecordArrival = Command<
  'RecordArrival',
  { site: 'pickup' | 'delivery'; fix: TruckFix; policy?: LocationPolicy }
>;
export type MarkInTransit = Command<'MarkInTransit', Record<string, never>>;
export type DeliverLoad = Command<'DeliverLoad', { signedBy: string; documentUrl?: string; notes?: string }>;
export type CancelLoad = Command<'CancelLoad', { reason: string }>;
/** The carrier backs out of a booking before pickup (a "fall-off"): the load goes back on the board. */
export type ReleaseBooking = Command<'ReleaseBooking', { reason: string }>;
export type ExpireLoad = Command<'ExpireLoad', Record<string, never>>;

export type LoadCommand =
  | PostLoad
  | ReviseLoad
  | PlaceBid
  | WithdrawBid
  | AcceptBid
  | BookNow
  | AssignDriver
  | ConfirmPickup
  | MarkInTransit
  | DeliverLoad
  | CancelLoad
  | ReleaseBooking
  | RecordArrival
  | ExpireLoad;
