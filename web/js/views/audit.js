// The project's audit log: every operation, reads included, with filters and paging.
import { api } from '../api.js';
import { absoluteTime, h, fill, link, timeEl } from '../dom.js';
import { button, emptyState, pageHeader, setCrumbs } from '../ui.js';

const ACTIONS = [
  'add_memory', 'add_memories', 'update_memory', 'supersede_memory', 'delete_memory',
  'get_memory', 'list_memories', 'memory_history', 'search_memories', 'get_context',
  'write_handoff', 'open_project', 'open_last_project', 'resolve_review', 'list_review_queue',
  'export_project', 'list_audit_events', 'project_stats', 'get_project', 'update_project',
  'create_project',
];

export async function auditView({ root, params: [projectId], query }) {
  const project = await api.project(projectId);
  setCrumbs(['Projects', '#/'], [project.name, link('p', projectId)], ['Audit log']);
  const filters = {
    action: query.get('action') || '', principal: query.get('principal') || '',
    memory_id: query.get('memory_id') || '', since: query.get('since') || '', until: query.get('until') || '',
  };
  const inputs = {
    action: h('select', { name: 'action', 'data-testid': 'audit-action' },
      h('option', { value: '' }, 'Any action'),
      ACTIONS.map((a) => h('option', { value: a, selected: a === filters.action }, a))),
    principal: h('input', { name: 'principal', value: filters.principal, placeholder: 'principal' }),
    memory_id: h('input', { name: 'memory_id', value: filters.memory_id, placeholder: 'memory id', class: 'mono' }),
    since: h('input', { name: 'since', type: 'datetime-local', value: filters.since }),
    until: h('input', { name: 'until', type: 'datetime-local', value: filters.until }),
  };
  const body = h('tbody');
  const more = button('Older events', () => load(), { kind: 'ghost', testid: 'audit-more' });
  const status = h('p', { class: 'muted small' });
  let cursor = null;
  let count = 0;

  const params = () => {
    const out = {};
    for (const [key, value] of Object.entries(filters)) {
      if (!value) continue;
      out[key] = key === 'since' || key === 'until' ? new Date(value).toISOString() : value;
    }
    return out;
  };
  const load = async () => {
    const page = await api.audit(projectId, { ...params(), limit: 100, cursor });
    cursor = page.next_cursor;
    count += page.events.length;
    body.append(...page.events.flatMap((e) => eventRows(projectId, e)));
    more.hidden = !cursor;
    fill(status, count ? `${count.toLocaleString()} events shown, newest first${cursor ? '' : ' — that is all'}.` : '');
    if (!count) fill(status, emptyState('No events match these filters'));
  };
  const apply = (event) => {
    event.preventDefault();
    for (const key of Object.keys(filters)) filters[key] = inputs[key].value.trim();
    history.replaceState(null, '', link('p', projectId, 'audit', filters));
    cursor = null;
    count = 0;
    body.replaceChildren();
    load();
  };

  root.append(
    pageHeader({ title: 'Audit log', subtitle: 'One event per operation, reads included; each project’s events form a SHA-256 hash chain.' }),
    h('form', { class: 'toolbar audit-filters', on: { submit: apply } },
      inputs.action, inputs.principal, inputs.memory_id,
      h('label', { class: 'inline' }, 'since ', inputs.since),
      h('label', { class: 'inline' }, 'until ', inputs.until),
      button('Filter', null, { type: 'submit', kind: 'primary', testid: 'audit-filter' })),
    status,
    h('div', { class: 'table-wrap' }, h('table', { class: 'table', 'data-testid': 'audit-table' },
      h('thead', {}, h('tr', {}, ['#', 'When', 'Who', 'Channel', 'Action', 'Outcome', 'Memories', '']
        .map((t) => h('th', { scope: 'col' }, t)))),
      body)),
    more,
  );
  await load();
}

function eventRows(projectId, e) {
  const ids = [...new Set([...e.target_ids, ...e.returned_ids])];
  const detail = h('tr', { class: 'event-detail', hidden: true }, h('td', { colspan: 8 },
    h('dl', { class: 'facts' },
      h('dt', {}, 'Time'), h('dd', {}, absoluteTime(e.ts), ' ', h('span', { class: 'mono small' }, e.ts)),
      h('dt', {}, 'Client'), h('dd', {}, e.client || '—'),
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
