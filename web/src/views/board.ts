import { api, query } from '../api.js';
import { errorBox, h, money, when } from '../dom.js';
import type { Live } from '../realtime.js';
import { hasRole, isStaff, type Session } from '../session.js';
import type { LoadMessage, LoadSummary, View } from '../types.js';

const EQUIPMENT = ['', 'flatbed', 'step_deck', 'dry_van', 'reefer', 'tanker', 'dump', 'lowboy', 'hopper'];
const SORTS = [
  ['pickup', 'Soonest pickup'],
  ['rate', 'Best rate'],
  ['ratePerMile', 'Best rate per mile'],
  ['age', 'Newest'],
] as const;
const STATUSES = ['posted', 'booked', 'assigned', 'picked_up', 'in_transit', 'delivered', 'cancelled', 'expired'];

/**
 * The live load board: filters over GET /loads, and the rows kept current from Socket.IO (the
 * `loadboard` room for carriers and staff, the organisation's room for a shipper): new loads
 * appear at the top, booked ones leave, without a reload.
 */
export function boardView(session: Session, live: Live, open: (loadId: string) => void): View {
  const shipperSide = !hasRole(session, 'carrier', 'dispatcher', 'driver') && !isStaff(session);
  const filters = {
    status: h(
      'select',
      { name: 'status', 'aria-label': 'Status' },
      ...STATUSES.map((s) => h('option', { value: s }, s.replace('_', ' '))),
    ),
    states: h('input', { name: 'originStates', placeholder: 'TX,OK', size: 8, 'aria-label': 'Origin states' }),
    equipment: h(
      'select',
      { name: 'equipment', 'aria-label': 'Equipment' },
      ...EQUIPMENT.map((e) => h('option', { value: e }, e ? e.replace('_', ' ') : 'any equipment')),
    ),
    sort: h('select', { name: 'sort', 'aria-label': 'Sort' }, ...SORTS.map(([v, l]) => h('option', { value: v }, l))),
  };
  const body = h('tbody', {});
  const message = h('div', { class: 'message' });
  const count = h('span', { class: 'count' });
  const rows = new Map<string, HTMLTableRowElement>();

  const rowOf = (l: LoadSummary) =>
    h(
      'tr',
      { 'data-load': l.loadId, onclick: () => open(l.loadId), tabindex: 0 },
      h('td', {}, h('span', { class: `status ${l.status}` }, l.status.replace('_', ' '))),
      h('td', {}, `${l.origin.city}, ${l.origin.state}`),
      h('td', {}, `${l.destination.city}, ${l.destination.state}`),
      h('td', {}, l.commodity),
      h('td', {}, l.equipmentType.replace('_', ' ')),
      h('td', {}, when(l.pickupWindow.from)),
      h('td', { class: 'num' }, money(l.rateCents, l.currency)),
      h('td', { class: 'num' }, `${money(l.ratePerMileCents)}/mi`),
      h('td', {}, l.shipper.name ?? ''),
    );

  const put = (l: LoadSummary, fresh: boolean) => {
    const tr = rowOf(l);
    const had = rows.get(l.loadId);
    if (had) had.replaceWith(tr);
    else body.prepend(tr);
    rows.set(l.loadId, tr);
    if (fresh) tr.classList.add('fresh');
    count.textContent = `${rows.size} loads`;
  };
  const drop = (loadId: string) => {
    rows.get(loadId)?.remove();
    rows.delete(loadId);
    count.textContent = `${rows.size} loads`;
  };

  const shown = (l: LoadSummary) => {
    const states = filters.states.value
      .toUpperCase()
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    return (
      l.status === filters.status.value &&
      (!states.length || states.includes(l.origin.state)) &&
      (!filters.equipment.value || l.equipmentType === filters.equipment.value)
    );
  };

  async function load() {
    message.replaceChildren();
    try {
      const page = await api<{ items: LoadSummary[] }>(
        session,
        `/loads${query({ status: filters.status.value, originStates: filters.states.value.toUpperCase().replace(/\s/g, ''), equipment: filters.equipment.value, sort: filters.sort.value, limit: 50 })}`,
      );
      body.replaceChildren();
      rows.clear();
      for (const l of [...page.items].reverse()) put(l, false);
      count.textContent = `${rows.size} loads`;
    } catch (err) {
      message.replaceChildren(errorBox(err));
    }
  }

  live.socket.on('load', (m: LoadMessage) => {
    if (m.removed || !m.load || !shown(m.load)) return drop(m.loadId);
    put(m.load, true);
  });
  void (async () => {
    try {
      await live.subscribe(shipperSide ? `org:${session.orgId}` : 'loadboard');
    } catch (err) {
      message.replaceChildren(errorBox(err));
    }
  })();
  for (const f of Object.values(filters)) f.addEventListener('change', () => void load());
  void load();

  const element = h(
    'section',
    { class: 'board' },
    h('header', { class: 'bar' }, h('h2', {}, shipperSide ? 'Your loads' : 'Load board'), count),
    h(
      'form',
      { class: 'filters', onsubmit: (e: Event) => (e.preventDefault(), void load()) },
      filters.status,
      filters.states,
      filters.equipment,
      filters.sort,
      h('button', { type: 'submit' }, 'Apply'),
    ),
    message,
    h(
      'table',
      { class: 'loads' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Status', 'From', 'To', 'Commodity', 'Equipment', 'Pickup', 'Rate', 'Per mile', 'Shipper'].map((t) =>
            h('th', {}, t),
          ),
        ),
      ),
      body,
    ),
  );
  return { element };
}
