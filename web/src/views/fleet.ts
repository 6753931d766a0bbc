import { api, query } from '../api.js';
import { errorBox, h, when } from '../dom.js';
import { UsMap } from '../map.js';
import type { Live } from '../realtime.js';
import type { Session } from '../session.js';
import type { Fix, LocationMessage, View } from '../types.js';

interface Nearby {
  loadId: string;
  truckId: string | null;
  status: string | null;
  distanceMi: number;
  location: Fix | null;
}

const PLACES: Record<string, [number, number]> = {
  Houston: [29.76, -95.37],
  Dallas: [32.78, -96.8],
  Chicago: [41.88, -87.63],
  Atlanta: [33.75, -84.39],
  'Los Angeles': [34.05, -118.24],
  Denver: [39.74, -104.99],
};

/** Trucks hauling near a point (GET /tracking/nearby), each moving as its pings arrive. */
export function fleetView(session: Session, live: Live, open: (loadId: string) => void): View {
  const map = new UsMap('Map of trucks near the point');
  const place = h(
    'select',
    { name: 'place', 'aria-label': 'Near' },
    ...Object.keys(PLACES).map((p) => h('option', { value: p }, p)),
  );
  const radius = h('input', {
    name: 'radiusMi',
    type: 'number',
    min: 1,
    max: 500,
    value: 250,
    'aria-label': 'Radius in miles',
  });
  const list = h('ul', { class: 'trucks' });
  const message = h('div', { class: 'message' });

  async function search() {
    message.replaceChildren();
    const [lat, lng] = PLACES[place.value]!;
    try {
      live.unsubscribeAll();
      live.socket.on('location', onLocation);
      const { items } = await api<{ items: Nearby[] }>(
        session,
        `/tracking/nearby${query({ lat, lng, radiusMi: radius.value, limit: 100 })}`,
      );
      map.clear();
      map.mark('center', 'origin', lat, lng, place.value);
      list.replaceChildren(
        ...items.map((t) =>
          h(
            'li',
            { 'data-load': t.loadId, onclick: () => open(t.loadId) },
            h('strong', {}, t.truckId ?? 'truck'),
            ` ${t.status ?? ''} · ${t.distanceMi} mi · ${when(t.location?.recordedAt)}`,
          ),
        ),
      );
      if (!items.length) list.append(h('li', { class: 'empty' }, 'No truck is hauling within that radius'));
      for (const t of items) {
        if (t.location)
          map.mark(t.loadId, 'truck', t.location.lat, t.location.lng, `${t.truckId ?? 'Truck'} (${t.status ?? ''})`);
        await live.subscribe(`tracking:${t.loadId}`).catch(() => {});
      }
    } catch (err) {
      message.replaceChildren(errorBox(err));
    }
  }
  function onLocation(m: LocationMessage) {
    map.mark(m.loadId, 'truck', m.fix.lat, m.fix.lng, `${m.truckId ?? 'Truck'} (${m.status ?? ''})`);
  }

  void search();
  const element = h(
    'section',
    { class: 'fleet' },
    h('header', { class: 'bar' }, h('h2', {}, 'Fleet')),
    h(
      'form',
      { class: 'filters', onsubmit: (e: Event) => (e.preventDefault(), void search()) },
      place,
      radius,
      h('button', { type: 'submit' }, 'Find trucks'),
    ),
    message,
    h('div', { class: 'columns' }, list, map.element),
  );
  return { element };
}
