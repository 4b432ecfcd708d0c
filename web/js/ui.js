// Shared pieces: badges, toasts, dialogs, page headers, error and empty states.
import { h, fill, excerpt, link } from './dom.js';
import { can, meta } from './session.js';

// Kinds and statuses are the server's (GET /meta); only their display names live here.
const PLURAL = { preference: 'Preferences', handoff: 'Handoffs' };

export function kinds() {
  return meta().kinds;
}

export function kindLabel(kind) {
  return PLURAL[kind] || kind.charAt(0).toUpperCase() + kind.slice(1) + 's';
}

export function statuses() {
  return meta().statuses;
}

/** What identifies a memory to a person: its title, else its first line of content. */
export function memoryHeading(memory, max = 90) {
  if (memory.title) return memory.title;
  const line = String(memory.content || '').split('\n').find((l) => l.trim()) || '';
  return excerpt(line, max) || `(empty ${memory.kind})`;
}

export function kindBadge(kind) {
  return h('span', { class: `badge kind kind-${kind}`, title: `kind: ${kind}` }, kind);
}

export function statusBadge(status) {
  return h('span', { class: `badge status status-${status}`, title: `status: ${status}` }, status);
}

/** Waiting in the review queue (flagged as a possible duplicate or conflict). */
export function reviewBadge(memory) {
  if (!memory.duplicate_of && !memory.conflicts_with) return null;
  const what = memory.duplicate_of ? 'possible duplicate' : 'possible conflict';
  return h('span', { class: 'badge flag', title: `waiting in the review queue: ${what}`,
    'data-testid': 'review-flag' }, 'review');
}

/** A recorded client, short: "Chrome 156" for a browser's User-Agent, the full text on hover. */
export function clientLabel(client) {
  if (!client) return '—';
  const browser = /^Mozilla\//.test(client) && client.match(/(Firefox|Edg|HeadlessChrome|Chrome|Safari)\/(\d+)/);
  const text = browser ? `${browser[1].replace('HeadlessChrome', 'Chrome (headless)')} ${browser[2]}`
    : client.length > 40 ? client.slice(0, 39) + '…' : client;
  return h('span', { class: 'client', title: client }, text);
}

export function pinBadge() {
  return h('span', { class: 'badge pinned', title: 'pinned: always ranked first' }, '★ pinned');
}

export function tagChip(tag, href) {
  return href ? h('a', { class: 'tag', href }, `#${tag}`) : h('span', { class: 'tag' }, `#${tag}`);
}

export function button(label, onClick, { kind = 'secondary', title, testid, type = 'button' } = {}) {
  return h('button', {
    type, class: `btn btn-${kind}`, title, 'data-testid': testid, on: onClick ? { click: onClick } : undefined,
  }, label);
}

export function toast(message, kind = 'ok') {
  const box = document.getElementById('toasts');
  const item = h('div', { class: `toast toast-${kind}` }, message);
  box.append(item);
  setTimeout(() => item.remove(), kind === 'error' ? 7000 : 3500);
}

export function errorPanel(err) {
  const title = err.status === 404 ? 'Not found' : err.status === 403 ? 'Not allowed' : 'Something went wrong';
  return h('div', { class: 'panel error-panel', role: 'alert' },
    h('h2', {}, title),
    h('p', {}, err.detail || err.message || String(err)),
    err.error ? h('p', { class: 'muted mono' }, err.error) : null,
    h('p', {}, h('a', { href: '#/' }, '← All projects')));
}

export function emptyState(title, text, action) {
  return h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, title),
    text ? h('p', { class: 'muted' }, text) : null, action || null);
}

export function loading(text = 'Loading…') {
  return h('p', { class: 'loading' }, text);
}

export function pageHeader({ title, subtitle, meta, actions }) {
  return h('div', { class: 'page-header' },
    h('div', { class: 'page-title' },
      h('h1', {}, title),
      subtitle ? h('p', { class: 'subtitle' }, subtitle) : null,
      meta || null),
    actions && actions.length ? h('div', { class: 'actions' }, actions) : null);
}

/** A project's sections as tabs; "Fleet" leads to the dashboard of every readable project. */
export function projectNav(projectId, current, { review } = {}) {
  const sections = [
    { id: 'memories', label: 'Memories', href: link('p', projectId) },
    { id: 'review', label: 'Review queue', href: link('p', projectId, 'review'), count: review,
      testid: 'review-link' },
    can(projectId, 'curator') ? { id: 'audit', label: 'Audit log', href: link('p', projectId, 'audit'),
      testid: 'audit-link' } : null,
    can(projectId, 'curator') ? { id: 'trust', label: 'Trust', href: link('p', projectId, 'trust'),
      testid: 'trust-link' } : null,
    { id: 'fleet', label: 'Fleet', href: link('fleet'), testid: 'fleet-link' },
  ].filter(Boolean);
  return h('nav', { class: 'section-nav', 'aria-label': 'Project sections' }, sections.map((s) => h('a', {
    class: `section-tab${s.id === current ? ' is-current' : ''}`, href: s.href,
    'aria-current': s.id === current ? 'page' : undefined, 'data-testid': s.testid,
  }, s.label, s.count ? h('span', { class: 'pill' }, String(s.count)) : null)));
}

export function setCrumbs(...items) {
  const nav = document.getElementById('crumbs');
  const parts = [];
  items.forEach(([label, href], i) => {
    if (i) parts.push(h('span', { class: 'sep', 'aria-hidden': 'true' }, '/'));
    parts.push(href ? h('a', { href }, label) : h('span', { 'aria-current': 'page' }, label));
  });
  fill(nav, parts);
  document.title = items.length ? `${items[items.length - 1][0]} · memsvc` : 'memsvc inspector';
}

const openDialogs = new Set();

/** Navigation calls this: a dialog opened for the page being left is cancelled, so
 * confirming it can never act on what the next page shows. */
export function cancelDialogs() {
  for (const close of [...openDialogs]) close(null);
}

/** A modal <dialog>; resolves with the value given to close(), or null when cancelled
 * (also when the page changes under it). */
export function openDialog(build, { wide = false, testid } = {}) {
  return new Promise((resolve) => {
    const dialog = h('dialog', { class: `dialog${wide ? ' dialog-wide' : ''}`, 'data-testid': testid });
    let result = null;
    const close = (value) => {
      result = value;
      openDialogs.delete(close);
      if (dialog.open) dialog.close(); else { dialog.remove(); resolve(result); }
    };
    openDialogs.add(close);
    dialog.addEventListener('close', () => { openDialogs.delete(close); dialog.remove(); resolve(result); });
    dialog.addEventListener('click', (event) => { if (event.target === dialog) close(null); });
    append(dialog, build(close));
    document.body.append(dialog);
    dialog.showModal();
    const focus = dialog.querySelector('[autofocus], input, textarea, select');
    if (focus) focus.focus();
  });
}

function append(el, child) {
  el.append(...[child].flat().filter(Boolean));
}

/** Ask before losing information. Resolves true only on an explicit confirmation.
 * ``subject`` (a memory) puts its id and heading in the dialog, which is bound to it. */
export function confirmAction({ title, message, quote, confirm = 'Confirm', danger = false, subject }) {
  return openDialog((close) => h('form', { method: 'dialog', class: 'dialog-body', on: {
    submit: (event) => { event.preventDefault(); close(true); },
  }, dataset: subject ? { memoryId: subject.id } : undefined },
  h('h2', {}, title),
  subject ? h('p', { class: 'dialog-subject' },
    h('b', { 'data-testid': 'dialog-subject-title' }, memoryHeading(subject)), ' ',
    h('span', { class: 'mono muted small', 'data-testid': 'dialog-subject-id' }, subject.id)) : null,
  h('p', {}, message),
  quote ? h('blockquote', { class: 'quote' }, excerpt(quote, 400)) : null,
  h('div', { class: 'dialog-actions' },
    button('Cancel', () => close(false), { testid: 'cancel' }),
    h('button', { type: 'submit', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`,
      'data-testid': 'confirm', autofocus: true }, confirm))), { testid: 'confirm-dialog' }).then(Boolean);
}

/** Run an API action with a busy button and a toast; returns the result or null. */
export async function act(buttonEl, fn, done) {
  if (buttonEl) buttonEl.disabled = true;
  try {
    const result = await fn();
    if (done) toast(done);
    return result ?? true;
  } catch (err) {
    toast(err.detail || err.message || String(err), 'error');
    return null;
  } finally {
    if (buttonEl) buttonEl.disabled = false;
  }
}
