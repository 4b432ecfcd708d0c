// The project's audit log: every operation, reads included, filtered server-side by
// action, channel, principal, client (the agent's MCP client or User-Agent), memory and
// time. The inspector's own reads are hidden by default; one click shows them.
import { api, isAbort } from '../api.js';
import { absoluteTime, h, fill, link, timeEl } from '../dom.js';
import { meta } from '../session.js';
import { button, clientLabel, emptyState, pageHeader, projectNav, setCrumbs } from '../ui.js';

const TEXT_FILTERS = ['action', 'channel', 'principal', 'client', 'memory_id', 'since', 'until'];

export async function auditView({ root, params: [projectId], query, isCurrent }) {
  const project = await api.project(projectId);
  setCrumbs(['Projects', '#/'], [project.name, link('p', projectId)], ['Audit log']);
  const { read_actions: reads, write_actions: writes, channels } = meta();
  const filters = Object.fromEntries(TEXT_FILTERS.map((k) => [k, query.get(k) || '']));
  filters.web_reads = query.get('web_reads') === 'show' ? 'show' : '';
  const option = (value, selected) => h('option', { value, selected: value === selected }, value);
  const inputs = {
    action: h('select', { name: 'action', 'data-testid': 'audit-action', 'aria-label': 'Action' },
      h('option', { value: '' }, 'Any action'),
      h('optgroup', { label: 'Writes' }, writes.map((a) => option(a, filters.action))),
      h('optgroup', { label: 'Reads' }, reads.map((a) => option(a, filters.action)))),
    channel: h('select', { name: 'channel', 'data-testid': 'audit-channel', 'aria-label': 'Channel' },
      h('option', { value: '' }, 'Any channel'), channels.map((c) => option(c, filters.channel))),
    principal: h('input', { name: 'principal', value: filters.principal, placeholder: 'principal',
      'aria-label': 'Principal', 'data-testid': 'audit-principal' }),
    client: h('input', { name: 'client', value: filters.client, placeholder: 'agent client',
      'aria-label': 'Agent client', title: 'The calling client as recorded: MCP client name or User-Agent',
      'data-testid': 'audit-client' }),
    memory_id: h('input', { name: 'memory_id', value: filters.memory_id, placeholder: 'memory id', class: 'mono',
      'aria-label': 'Memory id' }),
    since: h('input', { name: 'since', type: 'datetime-local', value: filters.since }),
    until: h('input', { name: 'until', type: 'datetime-local', value: filters.until }),
  };
  const showWebReads = h('input', { type: 'checkbox', name: 'web_reads', checked: filters.web_reads === 'show',
    'data-testid': 'audit-show-web-reads' });
  const body = h('tbody');
  const more = button('Older events', () => load(), { kind: 'ghost', testid: 'audit-more' });
  const status = h('p', { class: 'muted small', 'data-testid': 'audit-status' });
  const groups = h('div', { class: 'audit-groups', 'data-testid': 'audit-groups' });
  let cursor = null;
  let count = 0;
  let loads = 0;
  let loaded = [];

  const params = () => {
    const out = {};
    for (const key of TEXT_FILTERS) {
      const value = filters[key];
      if (!value) continue;
      out[key] = key === 'since' || key === 'until' ? new Date(value).toISOString() : value;
    }
    if (filters.web_reads !== 'show') out.hide_reads_from = 'web';
    return out;
  };
  const load = async () => {
    const mine = loads;
    let page;
    try {
      page = await api.audit(projectId, { ...params(), limit: 100, cursor });
    } catch (err) {
      if (mine === loads && isCurrent() && !isAbort(err)) fill(status, h('span', { class: 'error-text' }, err.detail || String(err)));
      return;
    }
    if (mine !== loads || !isCurrent()) return;
    cursor = page.next_cursor;
    count += page.events.length;
    loaded = loaded.concat(page.events);
    renderGroups();
    body.append(...page.events.flatMap((e) => eventRows(projectId, e)));
    more.hidden = !cursor;
    const hidden = filters.web_reads === 'show' ? '' : ' The inspector’s own reads are hidden.';
    fill(status, count ? `${count.toLocaleString()} events shown, newest first${cursor ? '' : ' — that is all'}.${hidden}`
      : emptyState('No events match these filters', hidden.trim() || null));
  };
  const apply = (event) => {
    if (event) event.preventDefault();
    for (const key of TEXT_FILTERS) filters[key] = inputs[key].value.trim();
    filters.web_reads = showWebReads.checked ? 'show' : '';
    history.replaceState(null, '', link('p', projectId, 'audit', filters));
    loads += 1;
    cursor = null;
    count = 0;
    loaded = [];
    body.replaceChildren();
    load();
  };
  showWebReads.addEventListener('change', apply);

  // Who did what among the events loaded so far; a click narrows the log to that value.
  function renderGroups() {
    const by = (key) => {
      const counts = new Map();
      for (const e of loaded) counts.set(e[key] || '', (counts.get(e[key] || '') || 0) + 1);
      return [...counts].sort((a, b) => b[1] - a[1]);
    };
    const group = (key, label) => {
      const rows = by(key);
      if (!rows.length) return null;
      return h('div', { class: 'audit-group' }, h('span', { class: 'audit-group-label' }, label),
        rows.map(([value, n]) => value ? h('button', {
          type: 'button', class: 'chip', title: `Show only ${label.toLowerCase()} ${value}`,
          'data-testid': `group-${key}`, dataset: { value },
          on: { click: () => { inputs[key].value = value; apply(); } },
        }, key === 'client' ? clientLabel(value) : value, h('b', {}, n.toLocaleString()))
          : h('span', { class: 'chip muted' }, '—', h('b', {}, n.toLocaleString()))));
    };
    fill(groups, loaded.length ? [
      h('span', { class: 'muted small' }, `In the ${loaded.length.toLocaleString()} events shown:`),
      group('channel', 'Channel'), group('principal', 'Principal'), group('client', 'Client'),
    ] : null);
  }

  root.append(
    pageHeader({ title: 'Audit log', subtitle: 'One event per operation, reads included; each project’s events form a SHA-256 hash chain.' }),
    projectNav(projectId, 'audit'),
    h('form', { class: 'toolbar audit-filters', on: { submit: apply } },
      inputs.action, inputs.channel, inputs.principal, inputs.client, inputs.memory_id,
      h('label', { class: 'inline' }, 'since ', inputs.since),
      h('label', { class: 'inline' }, 'until ', inputs.until),
      button('Filter', null, { type: 'submit', kind: 'primary', testid: 'audit-filter' }),
      h('label', { class: 'inline toggle', title: 'Reads made through this inspector (channel web)' },
        showWebReads, ' show the inspector’s own reads')),
    status,
    groups,
    h('div', { class: 'table-wrap' }, h('table', { class: 'table', 'data-testid': 'audit-table' },
      h('thead', {}, h('tr', {}, ['#', 'When', 'Who', 'Client', 'Channel', 'Action', 'Outcome', 'Memories', '']
        .map((t) => h('th', { scope: 'col' }, t)))),
      body)),
    more,
  );
  await load();
}

function eventRows(projectId, e) {
  const ids = [...new Set([...e.target_ids, ...e.returned_ids])];
  const detail = h('tr', { class: 'event-detail', hidden: true }, h('td', { colspan: 9 },
    h('dl', { class: 'facts' },
      h('dt', {}, 'Time'), h('dd', {}, absoluteTime(e.ts), ' ', h('span', { class: 'mono small' }, e.ts)),
      h('dt', {}, 'Request'), h('dd', { class: 'mono' }, e.request_id || '—'),
      h('dt', {}, 'Targets'), h('dd', {}, idLinks(projectId, e.target_ids)),
      h('dt', {}, 'Returned'), h('dd', {}, idLinks(projectId, e.returned_ids)),
      h('dt', {}, 'Detail'), h('dd', {}, h('pre', { class: 'json' }, JSON.stringify(e.detail, null, 2))),
      h('dt', {}, 'Hash'), h('dd', { class: 'mono small' }, e.hash))));
  const toggle = button('Details', () => {
    detail.hidden = !detail.hidden;
    toggle.setAttribute('aria-expanded', String(!detail.hidden));
  }, { kind: 'ghost' });
  return [h('tr', { class: `outcome-row-${e.outcome}` },
    h('td', { class: 'mono muted' }, String(e.seq)),
    h('td', {}, timeEl(e.ts)),
    h('td', {}, e.principal),
    h('td', { class: 'small' }, clientLabel(e.client)),
    h('td', {}, h('span', { class: 'badge channel' }, e.channel)),
    h('td', { class: 'mono' }, e.action),
    h('td', {}, h('span', { class: `badge outcome-${e.outcome}` }, e.outcome)),
    h('td', {}, idLinks(projectId, ids.slice(0, 3)), ids.length > 3 ? h('span', { class: 'muted' }, ` +${ids.length - 3}`) : null),
    h('td', {}, toggle)), detail];
}

function idLinks(projectId, ids) {
  if (!ids.length) return '—';
  return ids.map((id) => h('a', { class: 'mono id-link', href: link('p', projectId, 'm', id) }, id.slice(-8)));
}
