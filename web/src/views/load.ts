import { api, ApiError } from '../api.js';
import { errorBox, h, money, when } from '../dom.js';
import { UsMap } from '../map.js';
import type { Live } from '../realtime.js';
import type { Session } from '../session.js';
import type { Fix, LoadDetail, LoadMessage, LocationMessage, View } from '../types.js';

/** One load: its details, the timeline of its status changes, and its truck moving on the map. */
export function loadView(session: Session, live: Live, loadId: string): View {
  const map = new UsMap('Map of the load: pickup, delivery and the truck');
  const details = h('dl', { class: 'details' });
  const timeline = h('ol', { class: 'timeline' });
  const position = h('p', { class: 'position' }, 'No position yet');
  const message = h('div', { class: 'message' });
  const title = h('h2', {}, 'Load');

  const showFix = (fix: Fix, truckId: string | null) => {
    map.mark('truck', 'truck', fix.lat, fix.lng, `Truck ${truckId ?? ''} at ${when(fix.recordedAt)}`);
    position.textContent = `Truck ${truckId ?? ''} at ${fix.lat.toFixed(4)}, ${fix.lng.toFixed(4)}, ${Math.round(fix.speedMph)} mph, ${when(fix.recordedAt)}`;
    position.dataset.lat = String(fix.lat);
    position.dataset.lng = String(fix.lng);
  };

  async function refresh() {
    const l = await api<LoadDetail>(session, `/loads/${loadId}`);
    title.textContent = `${l.origin.city}, ${l.origin.state} → ${l.destination.city}, ${l.destination.state}`;
    details.replaceChildren(
      ...(
        [
          ['Status', h('span', { class: `status ${l.status}` }, l.status.replace('_', ' '))],
          ['Reference', l.reference],
          [
            'Commodity',
            `${l.commodity} (${l.weightLb.toLocaleString('en-US')} lb, ${l.equipmentType.replace('_', ' ')})`,
          ],
          ['Pickup', when(l.pickupWindow.from)],
          ['Rate', `${money(l.rateCents, l.currency)} · ${l.tripMiles} mi · ${money(l.ratePerMileCents)}/mi`],
          ['Shipper', l.shipper.name ?? l.shipper.orgId],
          ['Truck', l.assignment?.truckId ?? '—'],
          ['Review', l.review ? l.review.reason.replace(/_/g, ' ') : '—'],
        ] as const
      ).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
    );
    timeline.replaceChildren(
      ...l.history.map((e) =>
        h(
          'li',
          { 'data-status': e.status },
          h('span', { class: `status ${e.status}` }, e.status.replace('_', ' ')),
          h('time', { datetime: e.at }, when(e.at)),
          h('small', {}, e.event),
        ),
      ),
    );
    map.mark('origin', 'origin', l.origin.lat, l.origin.lng, `Pickup: ${l.origin.city}, ${l.origin.state}`);
    map.mark(
      'destination',
      'destination',
      l.destination.lat,
      l.destination.lng,
      `Delivery: ${l.destination.city}, ${l.destination.state}`,
    );
  }

  async function follow() {
    // Join first: a fix sent while the history loads still arrives (a repeat is harmless).
    try {
      await live.subscribe(`tracking:${loadId}`);
    } catch {
      // Not this user's to follow (a carrier looking at an open load): the page still shows the load.
      position.textContent = 'Its position is shown to the shipper and the carrier hauling it';
      return;
    }
    try {
      const track = await api<{ points: { lat: number; lng: number }[] }>(
        session,
        `/tracking/${loadId}/history?maxPoints=500`,
      );
      map.setTrack(track.points);
      const latest = await api<{ truckId: string | null; location: Fix | null }>(session, `/tracking/${loadId}/latest`);
      if (latest.location) showFix(latest.location, latest.truckId);
    } catch (err) {
      // Not tracked yet: the first ping will show the truck.
      if (!(err instanceof ApiError && err.status === 404)) message.replaceChildren(errorBox(err));
    }
  }

  live.socket.on('load', (m: LoadMessage) => {
    if (m.loadId === loadId) void refresh().catch((err: unknown) => message.replaceChildren(errorBox(err)));
  });
  live.socket.on('location', (m: LocationMessage) => {
    if (m.loadId !== loadId) return;
    showFix(m.fix, m.truckId);
    map.extendTrack(m.fix.lat, m.fix.lng);
  });
  void (async () => {
    try {
      await refresh();
      await live.subscribe(`load:${loadId}`);
      await follow();
    } catch (err) {
      message.replaceChildren(errorBox(err));
    }
  })();

  const element = h(
    'section',
    { class: 'load' },
    h('header', { class: 'bar' }, h('a', { href: '#/board' }, '← Board'), title),
    message,
    h(
      'div',
      { class: 'columns' },
      h('div', {}, details, h('h3', {}, 'Timeline'), timeline),
      h('div', {}, map.element, position),
    ),
  );
  return { element };
}
