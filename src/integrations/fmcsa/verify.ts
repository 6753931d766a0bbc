import type { Verification } from '../../domain/carrier/events.js';
import type { FmcsaAuthority, FmcsaCarrier, FmcsaOutOfServiceOrder } from './answers.js';
import type { FmcsaApi } from './client.js';

export interface VerificationRequest {
  usdotNumber: string;
  mcNumber?: string;
}

/**
 * Reads what the register holds for a carrier's USDOT (and MC) number and states it as our
 * verification. The register has no insurance end date (a filing stands until cancelled), so
 * coverage seen now is trusted for `insuranceTrustMs` (longer than the daily re-check's period):
 * a carrier the re-check cannot reach again drops out of eligibility instead of staying in.
 */
export async function checkCarrier(
  api: FmcsaApi,
  req: VerificationRequest,
  now: Date,
  insuranceTrustMs: number,
): Promise<Omit<Verification, 'source'>> {
  const [carrier, authority, orders, byDocket] = await Promise.all([
    api.carrier(req.usdotNumber),
    api.authority(req.usdotNumber),
    api.outOfService(req.usdotNumber),
    req.mcNumber ? api.carriersByDocket(req.mcNumber) : Promise.resolve(undefined),
  ]);
  return verificationFrom({ carrier, authority, orders, byDocket }, req, now, insuranceTrustMs);
}

/** The pure part: the register's answers → our verification. */
export function verificationFrom(
  a: {
    carrier: FmcsaCarrier | undefined;
    authority: FmcsaAuthority[];
    orders: FmcsaOutOfServiceOrder[];
    byDocket: FmcsaCarrier[] | undefined;
  },
  req: VerificationRequest,
  now: Date,
  insuranceTrustMs: number,
): Omit<Verification, 'source'> {
  const checked = { usdotNumber: req.usdotNumber, ...(req.mcNumber ? { mcNumber: req.mcNumber } : {}) };
  const c = a.carrier;
  if (!c) {
    return {
      allowedToOperate: false,
      outOfService: false,
      authorityStatus: 'none',
      insurance: { onFile: false },
      checkedAt: now,
      checked,
      dotFound: false,
      ...(a.byDocket ? { mcMatchesDot: false } : {}),
    };
  }
  // The MC number must be filed under this USDOT number: a docket lookup naming another
  // entity (or none) is the classic sign of a borrowed or stolen MC number.
  const mcMatchesDot = a.byDocket ? a.byDocket.some((d) => d.dotNumber === c.dotNumber) : undefined;
  const activeOrder = a.orders.some((o) => o.active);
  const bipd = c.bipdOnFileCents ?? 0;
  // Carriers of property must file liability coverage; "not required" (private carriers) is
  // not a carrier we let haul for hire either, so coverage on file is what counts.
  const onFile = bipd > 0;
  return {
    allowedToOperate: c.allowedToOperate,
    outOfService: activeOrder || (a.orders.length === 0 && c.oosDate !== undefined),
    authorityStatus: authorityStatus(a.authority, c),
    insurance: {
      onFile,
      ...(onFile ? { bipdCoverageCents: bipd, expiresAt: new Date(now.getTime() + insuranceTrustMs) } : {}),
      ...(c.cargoOnFileCents ? { cargoCoverageCents: c.cargoOnFileCents } : {}),
      ...(c.bipdRequiredCents ? { bipdRequiredCents: c.bipdRequiredCents } : {}),
    },
    checkedAt: now,
    checked,
    dotFound: true,
    ...(mcMatchesDot !== undefined ? { mcMatchesDot } : {}),
    registeredName: c.legalName,
  };
}

/** Common or contract authority for property, from the authority records (else the census record). */
function authorityStatus(records: FmcsaAuthority[], c: FmcsaCarrier): Verification['authorityStatus'] {
  const codes = records.length
    ? records.flatMap((r) => [r.common, r.contract])
    : [c.commonAuthority, c.contractAuthority];
  if (codes.includes('A')) return 'active';
  if (codes.includes('I')) return 'inactive';
  return 'none';
}
