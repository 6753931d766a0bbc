/** A payment's state as its decider folds it. */
export interface Settlement {
  readonly paymentId: string;
  readonly loadId: string;
  readonly shipperOrgId: string;
  readonly carrierId: string;
  readonly carrierOrgId: string;
  readonly currency: 'usd';
  readonly amountCents: number;
  readonly termsDays: number;
  readonly deliveredAt: Date;
  /** What the carrier is owed now, and what the platform keeps (both move with QuickPay, refunds, disputes). */
  readonly payableCents: number;
  readonly feeCents: number;
  readonly refundedCents: number;
  readonly chargedCents: number;
  readonly charge: {
    readonly attempts: number;
    readonly pending?: string;
    readonly succeededAt?: Date;
    readonly ref?: string;
  };
  /** Refunds issued, and whether the provider has sent each back yet (failures counted). */
  readonly refunds: Readonly<
    Record<string, { readonly amountCents: number; readonly sent: boolean; readonly failures: number }>
  >;
  readonly quickPayAt?: Date;
  readonly payout: {
    readonly attempts: number;
    readonly pending?: { readonly payoutId: string; readonly amountCents: number };
    readonly sentCents: number;
    readonly sentAt?: Date;
  };
  readonly disputes: Readonly<Record<string, { readonly amountCents: number; readonly open: boolean }>>;
  readonly flagged?: { readonly stage: 'charge' | 'payout' | 'refund'; readonly reason: string };
}

export type PaymentState =
  { readonly status: 'none' } | { readonly status: 'open' | 'written_off' | 'closed'; readonly settlement: Settlement };
