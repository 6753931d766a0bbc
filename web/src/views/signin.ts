import { api } from '../api.js';
import { errorBox, h } from '../dom.js';
import { type Session, sessionOf } from '../session.js';
import type { View } from '../types.js';

/** Sign in with an API token (`npm run token -- --role dispatcher …` prints one). */
export function signinView(onSignedIn: (s: Session) => void): View {
  const token = h('textarea', {
    id: 'token',
    name: 'token',
    rows: 5,
    placeholder: 'eyJhbGciOi…',
    required: true,
    autocomplete: 'off',
  });
  const message = h('div', { class: 'message' });
  const form = h(
    'form',
    {
      class: 'card signin',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        message.replaceChildren();
        try {
          const session = sessionOf(token.value);
          // The server is the judge: a token it refuses is not kept.
          await api(session, '/loads?limit=1');
          onSignedIn(session);
        } catch (err) {
          message.replaceChildren(errorBox(err));
        }
      },
    },
    h('h1', {}, 'Freight operations'),
    h('label', { for: 'token' }, 'API token'),
    token,
    h('button', { type: 'submit' }, 'Sign in'),
    message,
    h('p', { class: 'hint' }, 'Your token stays in this browser tab only.'),
  );
  return { element: h('main', { class: 'center' }, form) };
}
