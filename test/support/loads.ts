/** Request bodies for the load and carrier commands, as a client sends them (JSON, ISO dates). */
const DAY = 24 * 3_600_000;
export const inDays = (d: number) => new Date(Date.now() + d * DAY).toISOString();

export function loadBody(shipperOrgId: string, overrides: Record<string, unknown> = {}) {
  return {
    shipperOrgId,
    reference: `PO-${Math.floor(Math.random() * 1e6)}`,
    commodity: 'Rebar, grade 60',
    description: '20 ft bundles, tarped',
    weightLb: 42_000,
    lengthFt: 48,
    equipmentType: 'flatbed',
    loadSize: 'full',
    origin: { address: '1 Steel Way', city: 'Houston', state: 'TX', zip: '77001', lat: 29.7604, lng: -95.3698 },
    destination: { address: '9 Site Rd', city: 'Dallas', state: 'TX', zip: '75201', lat: 32.7767, lng: -96.797 },
    pickupWindow: { from: inDays(1), to: inDays(2) },
    deliveryWindow: { from: inDays(2), to: inDays(3) },
    rateCents: 180_000,
    requirements: { tarps: true },
    ...overrides,
  };
}

export function carrierBody(orgId: string, overrides: Record<string, unknown> = {}) {
  return {
    orgId,
    usdotNumber: String(1_000_000 + Math.floor(Math.random() * 8_999_999)),
    mcNumber: 'MC-123456',
    legalName: 'Lone Star Haulers LLC',
    equipment: ['flatbed', 'step_deck'],
    homeBase: { city: 'Houston', state: 'TX', lat: 29.76, lng: -95.37 },
    ...overrides,
  };
}

export const goodVerification = () => ({
  allowedToOperate: true,
  outOfService: false,
  authorityStatus: 'active',
  insurance: { onFile: true, bipdCoverageCents: 75_000_000, cargoCoverageCents: 10_000_000, expiresAt: inDays(200) },
});
