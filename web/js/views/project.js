// One project: memories filtered by kind, status and tag, pinned first, paged; and the
// same ranked search agents use, with each hit's score parts on demand.
import { api, isAbort } from '../api.js';
import { h, fill, link, plural } from '../dom.js';
import { can, meta } from '../session.js';
import {
  kindLabel, kinds, statuses, act, button, emptyState, loading, pageHeader, projectNav, setCrumbs,
} from '../ui.js';
import { newMemory } from './editor.js';
import { memoryRow, scoreParts } from './memrow.js';

const PAGE = 50;

export async function projectView({ root, params: [projectId], query, isCurrent }) {
  const state = {
    kind: query.get('kind') || '',
    status: query.get('status') || 'active',
    tag: query.get('tag') || '',
    q: query.get('q') || '',
    min: query.has('min') ? Number(query.get('min')) : meta().min_relevance,
    cursors: [null],
  };
  const [project, stats] = await Promise.all([api.project(projectId), api.stats(projectId)]);
  setCrumbs(['Projects', '#/'], [project.name]);

  const results = h('section', { class: 'results', 'aria-live': 'polite' });
  const kindTabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Kind' });
  const statusSelect = select('status', statuses().map((s) => [s, s]), state.status, 'Status');
  const tagSelect = select('tag', [['', 'All tags'], ...stats.tags.map((t) => [t.tag, `#${t.tag} (${t.count})`])],
    state.tag, 'Tag');
  const searchInput = h('input', {
    type: 'search', name: 'q', value: state.q, placeholder: 'Search memories — same ranking agents get  ( / )',
    'aria-label': 'Search memories', 'data-search': true, 'data-testid': 'search-input', autocomplete: 'off',
  });

  const update = () => {
    state.cursors = [null];
    const q = { kind: state.kind, status: state.status === 'active' ? '' : state.status, tag: state.tag, q: state.q,
      min: state.min === meta().min_relevance ? '' : state.min };
    history.replaceState(null, '', link('p', projectId, q));
    renderTabs();
    load();
  };
  statusSelect.addEventListener('change', () => { state.status = statusSelect.value; update(); });
  tagSelect.addEventListener('change', () => { state.tag = tagSelect.value; update(); });

  function renderTabs() {
    const counts = stats.counts[state.status] || {};
    const all = kinds().reduce((sum, k) => sum + (counts[k] || 0), 0);
    fill(kindTabs, [['', 'All', all], ...kinds().map((k) => [k, kindLabel(k), counts[k] || 0])].map(
      ([kind, label, n]) => h('button', {
        type: 'button', role: 'tab', class: `tab${kind ? ` tab-${kind}` : ''}`,
        'aria-selected': String(state.kind === kind), 'data-testid': `tab-${kind || 'all'}`,
        on: { click: () => { state.kind = kind; update(); } },
      }, label, h('span', { class: 'tab-count' }, n.toLocaleString()))));
  }

  // Filter changes and page turns race too: only the newest load may fill the list.
  let loads = 0;
  async function load() {
    const mine = ++loads;
    const fresh = () => mine === loads && isCurrent();
    fill(results, loading());
    try {
      const content = state.q ? await searchResults() : await listResults();
      if (fresh()) fill(results, content);
    } catch (err) {
      if (fresh() && !isAbort(err)) {
        fill(results, h('p', { class: 'error-text', role: 'alert' }, err.detail || String(err)));
      }
    }
  }

  function filters() {
    return { kind: state.kind || undefined, status: state.status, tag: state.tag || undefined };
  }

  async function listResults() {
    const cursor = state.cursors[state.cursors.length - 1];
    const first = cursor === null;
    const [pinned, page] = await Promise.all([
      first ? api.memories(projectId, { ...filters(), pinned: true, limit: PAGE }) : null,
      api.memories(projectId, { ...filters(), pinned: false, limit: PAGE, cursor }),
    ]);
    const out = [];
    if (pinned && pinned.memories.length) {
      out.push(h('h2', { class: 'section-title' }, 'Pinned'), pinnedList(pinned));
    }
    if (page.memories.length) {
      if (pinned && pinned.memories.length) out.push(h('h2', { class: 'section-title' }, 'Newest first'));
      out.push(h('div', { class: 'mem-list' }, page.memories.map((m) => memoryRow(m))));
    }
    if (!out.length) {
      out.push(emptyState('No memories here', state.kind || state.tag || state.status !== 'active'
        ? 'Nothing matches these filters.' : 'Agents add memories through MCP or REST; you can add one too.'));
    }
    const pageNo = state.cursors.length;
    if (page.next_cursor || pageNo > 1) {
      out.push(h('nav', { class: 'pager', 'aria-label': 'Pages' },
        button('← Newer', () => { state.cursors.pop(); load(); },
          { testid: 'newer', kind: 'ghost' }),
        h('span', { class: 'muted' }, `Page ${pageNo} · ${PAGE} per page`),
        button('Older →', () => { state.cursors.push(page.next_cursor); load(); },
          { testid: 'older', kind: 'ghost' })));
      const [newer, , older] = out[out.length - 1].children;
      newer.disabled = pageNo === 1;
      older.disabled = !page.next_cursor;
    }
    return out;
  }

  // Pinned memories are all shown, page by page on request: nothing is silently capped.
  function pinnedList(firstPage) {
    const list = h('div', { class: 'mem-list', 'data-testid': 'pinned-list' }, firstPage.memories.map((m) => memoryRow(m)));
    let next = firstPage.next_cursor;
    const more = button('More pinned', async () => {
      const mine = loads;
      const page = await act(more, () => api.memories(projectId,
        { ...filters(), pinned: true, limit: PAGE, cursor: next }));
      if (!page || mine !== loads || !isCurrent()) return;
      list.append(...page.memories.map((m) => memoryRow(m)));
      next = page.next_cursor;
      more.hidden = !next;
    }, { kind: 'ghost', testid: 'more-pinned' });
    more.hidden = !next;
    return [list, more];
  }

  async function searchResults() {
    const body = {
      query: state.q, limit: 50, status: [state.status],
      kinds: state.kind ? [state.kind] : null, tags: state.tag ? [state.tag] : null,
      min_relevance: state.min,
    };
    const { hits, hint } = await api.search(projectId, body);
    if (!hits.length) {
      return h('div', { class: 'empty', 'data-testid': 'search-empty' },
        h('p', { class: 'empty-title' }, 'Nothing relevant'),
        h('p', { class: 'notice', 'data-testid': 'search-hint' }, hint || `Nothing ranked for “${state.q}”.`),
        state.min > 0 ? button('Show weak matches too (min relevance 0)', () => {
          state.min = 0; minInput.value = '0'; update();
        }, { kind: 'ghost', testid: 'show-weak' }) : null);
    }
    return [
      h('p', { class: 'muted small' }, `${plural(hits.length, 'hit')}, best first — the ranking agents get from search_memories.`),
      h('div', { class: 'mem-list' }, hits.map((hit, i) => {
        const detail = h('div', { class: 'why', hidden: true }, scoreParts(hit.parts),
          h('p', { class: 'muted small' }, hit.provenance_line));
        const toggle = button('Why?', () => {
          detail.hidden = !detail.hidden;
          toggle.setAttribute('aria-expanded', String(!detail.hidden));
        }, { kind: 'ghost', title: 'Show how this hit was scored', testid: 'why' });
        toggle.setAttribute('aria-expanded', 'false');
        return memoryRow(hit.memory, {
          extra: detail,
          side: [h('span', { class: 'score', title: 'final score' }, `#${i + 1} · ${hit.score.toFixed(4)}`), toggle],
        });
      })),
    ];
  }

  const minInput = h('input', {
    type: 'number', name: 'min_relevance', min: 0, max: 1, step: 0.05, value: String(state.min),
    'aria-label': 'Minimum relevance (0–1)', title: `Hits below this calibrated relevance are left out (server default ${meta().min_relevance}); 0 shows everything ranked`,
    'data-testid': 'min-relevance', class: 'min-relevance',
  });
  const readMin = () => {
    const value = Number(minInput.value);
    state.min = Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : meta().min_relevance;
  };
  minInput.addEventListener('change', () => { readMin(); if (state.q) update(); });
  const searchForm = h('form', { class: 'search', role: 'search', on: { submit: (event) => {
    event.preventDefault();
    state.q = searchInput.value.trim();
    readMin();
    update();
  } } }, searchInput, h('label', { class: 'min-label small muted' }, 'min relevance ', minInput), button('Search', null, { type: 'submit', kind: 'primary', testid: 'search-button' }),
  button('Clear', () => { searchInput.value = ''; state.q = ''; update(); }, { kind: 'ghost' }));

  root.append(
    pageHeader({
      title: project.name,
      subtitle: project.description || null,
      meta: h('div', { class: 'meta-line' },
        h('span', { class: 'mono' }, project.id),
        project.root_paths.map((p) => h('span', { class: 'mono path' }, p))),
      actions: headerActions(projectId, isCurrent),
    }),
    projectNav(projectId, 'memories', { review: stats.review }),
    kindTabs,
    h('div', { class: 'toolbar' }, searchForm, h('div', { class: 'filters' }, statusSelect, tagSelect)),
    results,
  );
  renderTabs();
  await load();
}

function headerActions(projectId, isCurrent) {
  const actions = [];
  if (can(projectId, 'writer')) {
    actions.push(button('New memory', async () => {
      const created = await newMemory(projectId);
      if (created && isCurrent()) location.hash = link('p', projectId, 'm', created.id);
    }, { kind: 'primary', testid: 'new-memory' }));
  }
  if (can(projectId, 'curator')) {
    const exportButton = button('Export', () => act(exportButton, () => download(projectId), 'Export downloaded'),
      { title: 'Download memories and audit log as JSON', testid: 'export' });
    actions.push(exportButton);
  }
  return actions;
}

async function download(projectId) {
  const res = await api.exportProject(projectId);
  const disposition = res.headers.get('content-disposition') || '';
  const name = (disposition.match(/filename="([^"]+)"/) || [])[1] || `memsvc-${projectId}.json`;
  const url = URL.createObjectURL(await res.blob());
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function select(name, options, value, label) {
  return h('select', { name, 'aria-label': label, 'data-testid': `filter-${name}` },
    options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
}

