import { api, query } from '../api.js';
import { errorBox, h, money, when } from '../dom.js';
import type { Session } from '../session.js';
import type { View } from '../types.js';

interface PaymentRow {
  paymentId: string;
  lastEvent: string;
  revision: string;
  updatedAt: string;
  payableCents: number | null;
  feeCents: number | null;
}

interface Audit {
  ok: boolean;
  chain: { ok: boolean; reason?: string };
  state: { status: string; stage?: string; reconciles?: boolean };
  events: {
    revision: string;
    type: string;
    recordedAt: string;
    actor: string | null;
    position: string;
    data: unknown;
    stateAfter: { status: string; stage?: string };
  }[];
}

/** Payments (newest activity first) and, for the one chosen, its history replayed from the log with the hash chain checked. */
export function paymentsView(session: Session, paymentId: string | undefined, open: (paymentId: string) => void): View {
  const list = h('tbody', {});
  const audit = h('div', { class: 'audit' });
  const message = h('div', { class: 'message' });

  async function loadList() {
    try {
      const { items } = await api<{ items: PaymentRow[] }>(session, `/payments${query({ limit: 100 })}`);
      list.replaceChildren(
        ...items.map((p) =>
          h(
            'tr',
            {
              'data-payment': p.paymentId,
              onclick: () => open(p.paymentId),
              class: p.paymentId === paymentId ? 'chosen' : '',
            },
            h('td', {}, h('code', {}, p.paymentId.slice(0, 8))),
            h('td', {}, p.lastEvent),
            h('td', { class: 'num' }, p.payableCents === null ? '—' : money(p.payableCents + (p.feeCents ?? 0))),
            h('td', {}, when(p.updatedAt)),
          ),
        ),
      );
      if (!items.length) list.append(h('tr', {}, h('td', { colspan: 4, class: 'empty' }, 'No payments yet')));
    } catch (err) {
      message.replaceChildren(errorBox(err));
    }
  }

  async function loadAudit(id: string) {
    try {
      const a = await api<Audit>(session, `/audit/payments/${id}`);
      audit.replaceChildren(
        h('h3', {}, `Payment ${id}`),
        h(
          'p',
          { class: a.chain.ok ? 'ok' : 'error', 'data-chain': a.chain.ok ? 'intact' : 'broken' },
          a.chain.ok
            ? 'Hash chain intact: no event was changed or removed'
            : `Hash chain broken: ${a.chain.reason ?? ''}`,
        ),
        h(
          'p',
          {},
          `Now ${a.state.status}${a.state.stage ? ` (${a.state.stage})` : ''}; amounts ${a.state.reconciles === false ? 'do not reconcile' : 'reconcile'}`,
        ),
        h(
          'table',
          { class: 'events' },
          h(
            'thead',
            {},
            h('tr', {}, ...['#', 'Event', 'When', 'Who', 'State after', 'Position'].map((t) => h('th', {}, t))),
          ),
          h(
            'tbody',
            {},
            ...a.events.map((e) =>
              h(
                'tr',
                {},
                h('td', {}, e.revision),
                h('td', {}, h('details', {}, h('summary', {}, e.type), h('pre', {}, JSON.stringify(e.data, null, 2)))),
                h('td', {}, when(e.recordedAt)),
                h('td', {}, e.actor ?? 'system'),
                h('td', {}, `${e.stateAfter.status}${e.stateAfter.stage ? ` / ${e.stateAfter.stage}` : ''}`),
                h('td', {}, h('code', {}, e.position)),
              ),
            ),
          ),
        ),
      );
    } catch (err) {
      audit.replaceChildren(errorBox(err));
    }
  }

  void loadList();
  if (paymentId) void loadAudit(paymentId);
  else audit.append(h('p', { class: 'hint' }, 'Choose a payment to see its audit history.'));
  const element = h(
    'section',
    { class: 'payments' },
    h('header', { class: 'bar' }, h('h2', {}, 'Payments')),
    message,
    h(
      'div',
      { class: 'columns' },
      h(
        'table',
        { class: 'loads' },
        h('thead', {}, h('tr', {}, ...['Payment', 'Last event', 'Invoice', 'Updated'].map((t) => h('th', {}, t)))),
        list,
      ),
      audit,
    ),
  );
  return { element };
}
