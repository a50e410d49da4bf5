/** The search form of the pages that look one thing up by its id (a batch, a job). */
import { field, h } from '../dom.js';
import { navigate } from '../route.js';

/**
 * A search form labelled `label` whose one field, `name`, holds `value`; submitting it goes to
 * `#/<page>/<the value>`.
 */
export function lookupForm({ page, label, name, value, placeholder, button }) {
  return h('form', {
    class: 'filters',
    role: 'search',
    'aria-label': label,
    onsubmit: (event) => {
      event.preventDefault();
      const text = String(new FormData(event.currentTarget).get(name) ?? '').trim();
      if (text !== '') navigate(page, [text]);
    },
  }, field(placeholder.label, { name, value, required: true, placeholder: placeholder.example }), h('button', { type: 'submit', class: 'primary' }, button));
}
