import type { EquipmentType } from '../domain/load/schemas.js';

/** US freight cities (lat/lng of downtown), weighted toward the big construction markets. */
export const CITIES: readonly { city: string; state: string; zip: string; lat: number; lng: number; weight: number }[] =
  [
    { city: 'Houston', state: 'TX', zip: '77002', lat: 29.7604, lng: -95.3698, weight: 6 },
    { city: 'Dallas', state: 'TX', zip: '75201', lat: 32.7767, lng: -96.797, weight: 6 },
    { city: 'Austin', state: 'TX', zip: '78701', lat: 30.2672, lng: -97.7431, weight: 4 },
    { city: 'San Antonio', state: 'TX', zip: '78205', lat: 29.4241, lng: -98.4936, weight: 4 },
    { city: 'El Paso', state: 'TX', zip: '79901', lat: 31.7619, lng: -106.485, weight: 2 },
    { city: 'Oklahoma City', state: 'OK', zip: '73102', lat: 35.4676, lng: -97.5164, weight: 2 },
    { city: 'Tulsa', state: 'OK', zip: '74103', lat: 36.154, lng: -95.9928, weight: 1 },
    { city: 'Phoenix', state: 'AZ', zip: '85004', lat: 33.4484, lng: -112.074, weight: 5 },
    { city: 'Tucson', state: 'AZ', zip: '85701', lat: 32.2226, lng: -110.9747, weight: 1 },
    { city: 'Los Angeles', state: 'CA', zip: '90012', lat: 34.0522, lng: -118.2437, weight: 7 },
    { city: 'San Diego', state: 'CA', zip: '92101', lat: 32.7157, lng: -117.1611, weight: 3 },
    { city: 'Fresno', state: 'CA', zip: '93721', lat: 36.7378, lng: -119.7871, weight: 2 },
    { city: 'Sacramento', state: 'CA', zip: '95814', lat: 38.5816, lng: -121.4944, weight: 2 },
    { city: 'San Jose', state: 'CA', zip: '95113', lat: 37.3382, lng: -121.8863, weight: 2 },
    { city: 'Las Vegas', state: 'NV', zip: '89101', lat: 36.1699, lng: -115.1398, weight: 3 },
    { city: 'Reno', state: 'NV', zip: '89501', lat: 39.5296, lng: -119.8138, weight: 1 },
    { city: 'Salt Lake City', state: 'UT', zip: '84111', lat: 40.7608, lng: -111.891, weight: 2 },
    { city: 'Denver', state: 'CO', zip: '80202', lat: 39.7392, lng: -104.9903, weight: 4 },
    { city: 'Albuquerque', state: 'NM', zip: '87102', lat: 35.0844, lng: -106.6504, weight: 1 },
    { city: 'Seattle', state: 'WA', zip: '98104', lat: 47.6062, lng: -122.3321, weight: 3 },
    { city: 'Portland', state: 'OR', zip: '97204', lat: 45.5152, lng: -122.6784, weight: 2 },
    { city: 'Boise', state: 'ID', zip: '83702', lat: 43.615, lng: -116.2023, weight: 1 },
    { city: 'Kansas City', state: 'MO', zip: '64106', lat: 39.0997, lng: -94.5786, weight: 2 },
    { city: 'St. Louis', state: 'MO', zip: '63101', lat: 38.627, lng: -90.1994, weight: 2 },
    { city: 'Omaha', state: 'NE', zip: '68102', lat: 41.2565, lng: -95.9345, weight: 1 },
    { city: 'Minneapolis', state: 'MN', zip: '55401', lat: 44.9778, lng: -93.265, weight: 2 },
    { city: 'Chicago', state: 'IL', zip: '60602', lat: 41.8781, lng: -87.6298, weight: 6 },
    { city: 'Indianapolis', state: 'IN', zip: '46204', lat: 39.7684, lng: -86.1581, weight: 2 },
    { city: 'Detroit', state: 'MI', zip: '48226', lat: 42.3314, lng: -83.0458, weight: 2 },
    { city: 'Columbus', state: 'OH', zip: '43215', lat: 39.9612, lng: -82.9988, weight: 2 },
    { city: 'Cleveland', state: 'OH', zip: '44113', lat: 41.4993, lng: -81.6944, weight: 1 },
    { city: 'Pittsburgh', state: 'PA', zip: '15222', lat: 40.4406, lng: -79.9959, weight: 1 },
    { city: 'Philadelphia', state: 'PA', zip: '19107', lat: 39.9526, lng: -75.1652, weight: 2 },
    { city: 'New York', state: 'NY', zip: '10007', lat: 40.7128, lng: -74.006, weight: 4 },
    { city: 'Newark', state: 'NJ', zip: '07102', lat: 40.7357, lng: -74.1724, weight: 2 },
    { city: 'Boston', state: 'MA', zip: '02108', lat: 42.3601, lng: -71.0589, weight: 2 },
    { city: 'Baltimore', state: 'MD', zip: '21202', lat: 39.2904, lng: -76.6122, weight: 1 },
    { city: 'Washington', state: 'DC', zip: '20001', lat: 38.9072, lng: -77.0369, weight: 2 },
    { city: 'Richmond', state: 'VA', zip: '23219', lat: 37.5407, lng: -77.436, weight: 1 },
    { city: 'Charlotte', state: 'NC', zip: '28202', lat: 35.2271, lng: -80.8431, weight: 3 },
    { city: 'Raleigh', state: 'NC', zip: '27601', lat: 35.7796, lng: -78.6382, weight: 2 },
    { city: 'Atlanta', state: 'GA', zip: '30303', lat: 33.749, lng: -84.388, weight: 5 },
    { city: 'Savannah', state: 'GA', zip: '31401', lat: 32.0809, lng: -81.0912, weight: 1 },
    { city: 'Jacksonville', state: 'FL', zip: '32202', lat: 30.3322, lng: -81.6557, weight: 2 },
    { city: 'Orlando', state: 'FL', zip: '32801', lat: 28.5383, lng: -81.3792, weight: 3 },
    { city: 'Tampa', state: 'FL', zip: '33602', lat: 27.9506, lng: -82.4572, weight: 3 },
    { city: 'Miami', state: 'FL', zip: '33130', lat: 25.7617, lng: -80.1918, weight: 3 },
    { city: 'Nashville', state: 'TN', zip: '37203', lat: 36.1627, lng: -86.7816, weight: 3 },
    { city: 'Memphis', state: 'TN', zip: '38103', lat: 35.1495, lng: -90.049, weight: 2 },
    { city: 'Birmingham', state: 'AL', zip: '35203', lat: 33.5186, lng: -86.8104, weight: 1 },
    { city: 'New Orleans', state: 'LA', zip: '70112', lat: 29.9511, lng: -90.0715, weight: 2 },
    { city: 'Baton Rouge', state: 'LA', zip: '70801', lat: 30.4515, lng: -91.1871, weight: 1 },
    { city: 'Little Rock', state: 'AR', zip: '72201', lat: 34.7465, lng: -92.2896, weight: 1 },
    { city: 'Louisville', state: 'KY', zip: '40202', lat: 38.2527, lng: -85.7585, weight: 1 },
  ];

/** Equipment mix of construction logistics, with what each hauls and its market rate per mile. */
export const EQUIPMENT: readonly {
  type: EquipmentType;
  weight: number;
  centsPerMile: [number, number];
  maxLb: number;
  commodities: string[];
}[] = [
  {
    type: 'flatbed',
    weight: 25,
    centsPerMile: [250, 380],
    maxLb: 48_000,
    commodities: [
      'Rebar, grade 60',
      'Steel I-beams',
      'Lumber, 2x10 SPF',
      'Structural steel',
      'Precast concrete panels',
      'Roof trusses',
      'PVC pipe',
      'Drywall',
    ],
  },
  {
    type: 'step_deck',
    weight: 10,
    centsPerMile: [280, 420],
    maxLb: 46_000,
    commodities: ['Skid steer loader', 'Scissor lifts', 'HVAC rooftop units', 'Transformer', 'Glulam beams'],
  },
  {
    type: 'dry_van',
    weight: 20,
    centsPerMile: [200, 300],
    maxLb: 44_000,
    commodities: [
      'Tile adhesive',
      'Bagged cement',
      'Electrical wire spools',
      'Plumbing fixtures',
      'Insulation batts',
      'Windows and doors',
    ],
  },
  {
    type: 'reefer',
    weight: 5,
    centsPerMile: [240, 360],
    maxLb: 42_000,
    commodities: ['Concrete admixture', 'Temperature-sensitive epoxy', 'Sealants'],
  },
  {
    type: 'lowboy',
    weight: 5,
    centsPerMile: [400, 700],
    maxLb: 80_000,
    commodities: ['Excavator', 'Bulldozer', 'Crawler crane parts', 'Wheel loader'],
  },
  {
    type: 'dump',
    weight: 12,
    centsPerMile: [300, 500],
    maxLb: 50_000,
    commodities: ['Crushed gravel', 'Fill dirt', 'Asphalt millings', 'Sand', 'Rip rap'],
  },
  {
    type: 'hopper',
    weight: 5,
    centsPerMile: [260, 380],
    maxLb: 50_000,
    commodities: ['Fly ash', 'Frac sand', 'Aggregate'],
  },
  {
    type: 'tanker',
    weight: 6,
    centsPerMile: [300, 450],
    maxLb: 48_000,
    commodities: ['Liquid asphalt', 'Diesel fuel', 'Portland cement, bulk', 'Water'],
  },
  {
    type: 'conestoga',
    weight: 5,
    centsPerMile: [290, 420],
    maxLb: 45_000,
    commodities: ['Coiled steel', 'Machinery', 'Finished millwork'],
  },
  {
    type: 'power_only',
    weight: 7,
    centsPerMile: [180, 260],
    maxLb: 45_000,
    commodities: ['Loaded trailer swap', 'Office trailer', 'Portable toilets trailer'],
  },
];

/** A small deterministic PRNG (mulberry32), so a seed of the same size gives the same data. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function weighted<T extends { weight: number }>(items: readonly T[], r: number): T {
  const total = items.reduce((s, i) => s + i.weight, 0);
  let x = r * total;
  for (const i of items) if ((x -= i.weight) < 0) return i;
  return items[items.length - 1]!;
}
