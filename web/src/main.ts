import './style.css';
import { h } from './dom.js';
import { Live } from './realtime.js';
import { hasRole, isStaff, loadSession, type Session, saveSession } from './session.js';
import type { View } from './types.js';
import { boardView } from './views/board.js';
import { fleetView } from './views/fleet.js';
import { loadView } from './views/load.js';
import { paymentsView } from './views/payments.js';
import { signinView } from './views/signin.js';

/**
 * The operations dashboard: a hash-routed page per view, built from the public API and Socket.IO
 * only. Which views a user gets follows their token's roles (the API enforces them regardless).
 */
const app = document.getElementById('app')!;
let session = loadSession();
let live: Live | undefined;
let current: View | undefined;

const navigate = (hash: string) => {
  location.hash = hash;
};

function tabsFor(s: Session): [string, string][] {
  const tabs: [string, string][] = [['#/board', hasRole(s, 'shipper') && !isStaff(s) ? 'Your loads' : 'Load board']];
  if (hasRole(s, 'carrier', 'dispatcher', 'admin', 'auditor')) tabs.push(['#/fleet', 'Fleet']);
  if (hasRole(s, 'admin', 'auditor')) tabs.push(['#/payments', 'Payments']);
  return tabs;
}

function render() {
  current?.leave?.();
  live?.unsubscribeAll();
  if (!session) {
    live?.close();
    live = undefined;
    current = signinView((s) => {
      saveSession(s);
      session = s;
      navigate('#/board');
      render();
    });
    app.replaceChildren(current.element);
    return;
  }
  const s = session;
  const connection = h('span', { class: 'connection', 'data-connected': 'false' }, 'connecting…');
  live ??= new Live(s, (up) => {
    const el = document.querySelector('.connection');
    if (!el) return;
    el.setAttribute('data-connected', String(up));
    el.textContent = up ? 'live' : 'reconnecting…';
  });
  if (live.socket.connected) {
    connection.dataset.connected = 'true';
    connection.textContent = 'live';
  }
  const [, route = 'board', id] = location.hash.split('/');
  const openLoad = (loadId: string) => navigate(`#/loads/${loadId}`);
  current =
    route === 'loads' && id
      ? loadView(s, live, id)
      : route === 'fleet'
        ? fleetView(s, live, openLoad)
        : route === 'payments'
          ? paymentsView(s, id, (p) => navigate(`#/payments/${p}`))
          : boardView(s, live, openLoad);
  const nav = h(
    'nav',
    {},
    h('strong', { class: 'brand' }, 'Freight ops'),
    ...tabsFor(s).map(([href, label]) =>
      h(
        'a',
        { href, class: location.hash.startsWith(href) || (href === '#/board' && !location.hash) ? 'active' : '' },
        label,
      ),
    ),
    h('span', { class: 'who' }, s.roles.join(', ')),
    connection,
    h(
      'button',
      {
        class: 'link',
        onclick: () => {
          saveSession(undefined);
          session = undefined;
          navigate('#/');
          render();
        },
      },
      'Sign out',
    ),
  );
  app.replaceChildren(nav, h('main', {}, current.element));
}

window.addEventListener('hashchange', render);
window.addEventListener('freight:unauthorized', () => {
  if (!session) return;
  saveSession(undefined);
  session = undefined;
  live?.close();
  live = undefined;
  render();
});
render();
