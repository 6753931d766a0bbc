/**
 * What the FMCSA QCMobile API answers, normalised. The API documents its resources
 * (https://mobile.fmcsa.dot.gov/QCDevsite/docs/qcApi) but not every field's spelling, and
 * clients of it found that answers vary in practice:
 * - `content` is an object for `/carriers/:dot` but an array of `{ carrier }` for the docket
 *   lookup (and sometimes for the former too); an unknown number answers `content: null` or `[]`;
 * - `allowedToOperate` is sometimes spelled `allowToOperate`, and flags come as "Y"/"N",
 *   booleans or missing;
 * - `dotNumber` comes as a number or a string; insurance amounts are strings in thousands of
 *   dollars ("1000" = $1,000,000);
 * - during maintenance the service answers an HTML page, with a 200 or a 5xx.
 */

export type AuthorityCode = 'A' | 'I' | 'N';

export interface FmcsaCarrier {
  readonly dotNumber: string;
  readonly legalName: string;
  readonly allowedToOperate: boolean;
  /** The date of an out-of-service order on the carrier's census record, if any. */
  readonly oosDate?: string;
  readonly commonAuthority?: AuthorityCode;
  readonly contractAuthority?: AuthorityCode;
  readonly brokerAuthority?: AuthorityCode;
  readonly bipdOnFileCents?: number;
  readonly bipdRequiredCents?: number;
  readonly bipdRequired?: boolean;
  readonly cargoOnFileCents?: number;
}

export interface FmcsaAuthority {
  readonly docketNumber?: string;
  readonly common?: AuthorityCode;
  readonly contract?: AuthorityCode;
  readonly broker?: AuthorityCode;
  readonly authorizedForProperty?: boolean;
}

export interface FmcsaOutOfServiceOrder {
  readonly oosDate?: string;
  readonly reason?: string;
  /** False once the order was rescinded (the record keeps its end date). */
  readonly active: boolean;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Y/N, true/false, "true"/"false" → boolean; anything else → undefined. */
export function flag(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v !== 'string') return undefined;
  const s = v.trim().toUpperCase();
  if (s === 'Y' || s === 'YES' || s === 'TRUE') return true;
  if (s === 'N' || s === 'NO' || s === 'FALSE') return false;
  return undefined;
}

function authority(v: unknown): AuthorityCode | undefined {
  if (typeof v !== 'string') return undefined;
  const s = v.trim().toUpperCase();
  if (s === 'A' || s === 'ACTIVE') return 'A';
  if (s === 'I' || s === 'INACTIVE') return 'I';
  if (s === 'N' || s === 'NONE') return 'N';
  return undefined;
}

/** An amount in thousands of dollars ("750", 750, "$750") → cents; missing or unreadable → undefined. */
function thousandsToCents(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v.replace(/[$,\s]/g, '')) : NaN;
  return Number.isFinite(n) && n >= 0 ? Math.round(n * 1000 * 100) : undefined;
}

const text = (v: unknown) =>
  typeof v === 'string' && v.trim() !== '' ? v.trim() : typeof v === 'number' ? String(v) : undefined;

/** The records of an answer's `content`, whichever shape it came in (none for null or empty). */
export function records(body: unknown, key?: string): Json[] {
  const content = isObject(body) ? body.content : undefined;
  const list = Array.isArray(content) ? content : isObject(content) ? [content] : [];
  return list.filter(isObject).map((r) => (key && isObject(r[key]) ? (r[key] as Json) : r));
}

export function carrierOf(r: Json): FmcsaCarrier | undefined {
  const dotNumber = text(r.dotNumber);
  if (!dotNumber) return undefined;
  const allowed = flag(r.allowedToOperate ?? r.allowToOperate);
  const optional = {
    oosDate: text(r.oosDate),
    commonAuthority: authority(r.commonAuthorityStatus),
    contractAuthority: authority(r.contractAuthorityStatus),
    brokerAuthority: authority(r.brokerAuthorityStatus),
    bipdOnFileCents: thousandsToCents(r.bipdInsuranceOnFile),
    bipdRequiredCents: thousandsToCents(r.bipdRequiredAmount),
    bipdRequired: flag(r.bipdInsuranceRequired),
    cargoOnFileCents: thousandsToCents(r.cargoInsuranceOnFile),
  };
  return {
    dotNumber: dotNumber.replace(/^0+(?=\d)/, ''),
    legalName: text(r.legalName) ?? '',
    // Absent means unknown; unknown is not permission.
    allowedToOperate: allowed ?? false,
    ...(Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)) as Partial<FmcsaCarrier>),
  };
}

export function authorityOf(r: Json): FmcsaAuthority {
  const a = isObject(r.carrierAuthority) ? (r.carrierAuthority as Json) : r;
  const docket = text(a.docketNumber);
  const prefix = text(a.prefix);
  const optional = {
    docketNumber: docket ? `${prefix ?? ''}${docket}` : undefined,
    common: authority(a.commonAuthorityStatus),
    contract: authority(a.contractAuthorityStatus),
    broker: authority(a.brokerAuthorityStatus),
    authorizedForProperty: flag(a.authorizedForProperty),
  };
  return Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)) as FmcsaAuthority;
}

export function outOfServiceOf(r: Json): FmcsaOutOfServiceOrder {
  const ended = text(r.oosRescindedDate ?? r.rescindedDate ?? r.oosEndDate ?? r.returnedToServiceDate);
  const status = text(r.oosStatus ?? r.status)?.toUpperCase();
  const optional = { oosDate: text(r.oosDate), reason: text(r.oosReason ?? r.oosReasonDescription) };
  return {
    ...(Object.fromEntries(
      Object.entries(optional).filter(([, v]) => v !== undefined),
    ) as Partial<FmcsaOutOfServiceOrder>),
    active: !ended && status !== 'INACTIVE' && status !== 'RESCINDED' && status !== 'I',
  };
}

/** An MC number as the docket lookup wants it: digits only, no "MC-" prefix, no leading zeros. */
export function docketDigits(mc: string): string {
  return mc.replace(/^MC-?/i, '').replace(/^0+(?=\d)/, '');
}
