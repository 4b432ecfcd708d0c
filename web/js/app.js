// Boot and hash routing. Each route renders into a fresh container that replaces the
// page only once its data arrived, so a slow request never shows a half-built page.
// Stale-view safety: every navigation takes a new token and AbortController; the page
// being left is made inert at once (its buttons cannot be pressed while the next one
// loads), its open dialogs are cancelled, its reads are aborted, and anything it still
// tries to render or act on is dropped because its token is no longer current.
import { getToken, isAbort, setToken, setViewSignal } from './api.js';
import { h, fill } from './dom.js';
import { session, loadIdentity } from './session.js';
import { button, cancelDialogs, errorPanel, loading, openDialog, toast } from './ui.js';
import { projectsView } from './views/projects.js';
import { projectView } from './views/project.js';
import { memoryView } from './views/memory.js';
import { reviewView } from './views/review.js';
import { auditView } from './views/audit.js';
import { agentView, fleetView } from './views/fleet.js';
import { trustView } from './views/trust.js';

const ROUTES = [
  [/^\/?$/, projectsView],
  [/^\/p\/([^/]+)\/?$/, projectView],
  [/^\/p\/([^/]+)\/m\/([^/]+)\/?$/, memoryView],
  [/^\/p\/([^/]+)\/review\/?$/, reviewView],
  [/^\/p\/([^/]+)\/audit\/?$/, auditView],
  [/^\/fleet\/?$/, fleetView],
  [/^\/p\/([^/]+)\/agent\/?$/, agentView],
  [/^\/p\/([^/]+)\/trust\/?$/, trustView],
];

let current = 0;
let controller = null;

function parseHash() {
  const raw = location.hash.replace(/^#/, '');
  const [path, search = ''] = raw.split('?');
  return { path, query: new URLSearchParams(search) };
}

function leaveCurrentView(main) {
  if (controller) controller.abort();
  controller = new AbortController();
  setViewSignal(controller.signal);
  cancelDialogs();
  const old = main.firstElementChild;
  if (old) {
    old.inert = true;
    old.classList.add('is-stale');
  }
  main.setAttribute('aria-busy', 'true');
  return controller.signal;
}

async function render() {
  const seq = ++current;
  const main = document.getElementById('main');
  const signal = leaveCurrentView(main);
  const { path, query } = parseHash();
  const route = ROUTES.find(([pattern]) => pattern.test(path));
  const root = h('div', { class: 'view', dataset: { route: path || '/' } });
  const isCurrent = () => seq === current;
  const timer = setTimeout(() => { if (isCurrent()) fill(main, loading()); }, 150);
  try {
    if (!session.who) await loadIdentity();
    renderIdentity();
    if (!route) throw Object.assign(new Error('No such page.'), { status: 404 });
    const params = route[1] ? path.match(route[0]).slice(1).map(decodeURIComponent) : [];
    await route[1]({ root, params, query, signal, isCurrent, rerender: render });
  } catch (err) {
    if (!isCurrent() || isAbort(err)) return;
    fill(root, errorPanel(err));
  } finally {
    clearTimeout(timer);
  }
  if (!isCurrent()) return;
  fill(main, root);
  main.removeAttribute('aria-busy');
  main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

function renderIdentity() {
  const box = document.getElementById('identity');
  const who = session.who;
  const grants = who ? Object.entries(who.grants) : [];
  const role = grants.length === 1 && grants[0][0] === '*' ? grants[0][1] : `${grants.length} grants`;
  fill(box,
    who ? h('span', { class: 'who', title: grants.map(([p, r]) => `${p}: ${r}`).join('\n') },
      h('span', { class: 'who-name', 'data-testid': 'principal' }, who.principal),
      h('span', { class: 'who-role' }, role)) : null,
    button(getToken() ? 'Token ✓' : 'Token', () => askToken(), {
      kind: 'ghost', title: 'Use an access token (kept in this tab only)', testid: 'token-button',
    }));
}

async function askToken(reason) {
  const token = await openDialog((close) => {
    const input = h('input', {
      type: 'password', name: 'token', autocomplete: 'off', placeholder: 'memsvc_…',
      'aria-label': 'Access token', value: getToken(), autofocus: true,
    });
    return h('form', { class: 'dialog-body', on: {
      submit: (event) => { event.preventDefault(); close({ value: input.value.trim() }); },
    } },
    h('h2', {}, 'Access token'),
    h('p', {}, reason || 'This server may require a token. It is kept in this browser tab only (sessionStorage) and sent as a Bearer header to this origin.'),
    input,
    h('div', { class: 'dialog-actions' },
      button('Forget token', () => close({ value: '' }), { kind: 'ghost' }),
      button('Cancel', () => close(null)),
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Use token')));
  });
  if (token === null) return;
  setToken(token.value);
  session.who = null;
  toast(token.value ? 'Token saved for this tab' : 'Token forgotten');
  render();
}

let asking = false;
window.addEventListener('memsvc:unauthenticated', async () => {
  if (asking) return;
  asking = true;
  try {
    await askToken('This server needs an access token. Paste one created with `memsvc token create`.');
  } finally {
    asking = false;
  }
});

window.addEventListener('hashchange', render);
document.addEventListener('keydown', (event) => {
  const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement?.tagName || '');
  if (event.key === '/' && !typing && !document.querySelector('dialog[open]')) {
    const search = document.querySelector('[data-search]');
    if (search) { event.preventDefault(); search.focus(); }
  }
});

render();
