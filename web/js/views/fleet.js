// The fleet dashboard: per project and per agent identity — last activity, reads and
// writes per day (a bar chart drawn here as plain SVG), memories by kind and status, the
// review backlog and quarantines. Every number comes from GET /api/v1/fleet/dashboard,
// which lists only the projects the caller may read.
import { api } from '../api.js';
import { h, link, plural, timeEl } from '../dom.js';
import { can } from '../session.js';
import { clientLabel, emptyState, kindBadge, kinds, pageHeader, setCrumbs, statusBadge, statuses } from '../ui.js';
import { memoryRow } from './memrow.js';
import { quarantineActions, quarantineButton } from './trust.js';

const SVG = 'http://www.w3.org/2000/svg';

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children) {
    if (child) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Reads and writes per day as paired bars; the tallest day sets the scale. */
export function activityChart(days, { width = 420, height = 96, testid } = {}) {
  const max = Math.max(1, ...days.map((d) => Math.max(d.reads, d.writes)));
  const step = width / Math.max(1, days.length);
  const bar = Math.max(2, Math.floor(step / 2) - 1);
  const plot = height - 14;
  const top = 14; // room for the scale label above the tallest bar
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, width, height, class: 'chart',
    role: 'img', 'data-testid': testid || 'activity-chart',
    'aria-label': `reads and writes per day, ${days[0]?.day || ''} to ${days[days.length - 1]?.day || ''}` });
  svg.append(s('line', { x1: 0, y1: plot + 0.5, x2: width, y2: plot + 0.5, class: 'chart-axis' }));
  days.forEach((d, i) => {
    const x = i * step + 1;
    for (const [j, key] of [[0, 'reads'], [1, 'writes']]) {
      const value = d[key];
      const tall = value ? Math.max(1, Math.round((value / max) * (plot - top))) : 0;
      svg.append(s('rect', { x: x + j * (bar + 1), y: plot - tall, width: bar, height: tall,
        class: `chart-${key}`, 'data-day': d.day, 'data-value': value },
      s('title', {}, `${d.day}: ${value} ${key}`)));
    }
  });
  svg.append(s('text', { x: 0, y: height - 2, class: 'chart-label' }, days[0]?.day.slice(5) || ''));
  svg.append(s('text', { x: width, y: height - 2, class: 'chart-label', 'text-anchor': 'end' },
    days[days.length - 1]?.day.slice(5) || ''));
  svg.append(s('text', { x: 0, y: 10, class: 'chart-label' }, `max ${max} a day`));
  return svg;
}

function total(days, key) {
  return days.reduce((sum, d) => sum + d[key], 0);
}

function sumCounts(byKind) {
  return Object.values(byKind || {}).reduce((a, b) => a + b, 0);
}

function legend() {
  return h('span', { class: 'chart-legend muted small' },
    h('span', { class: 'swatch swatch-reads' }), 'reads ',
    h('span', { class: 'swatch swatch-writes' }), 'writes');
}

function countsTable(p) {
  const shown = statuses().filter((st) => p.counts[st]);
  if (!shown.length) return h('p', { class: 'muted small' }, 'no memories');
  const used = kinds().filter((k) => shown.some((st) => p.counts[st][k]));
  return h('table', { class: 'table counts-table', 'data-testid': 'fleet-counts' },
    h('thead', {}, h('tr', {}, h('th', {}, 'status'), used.map((k) => h('th', {}, kindBadge(k))),
      h('th', {}, 'all'))),
    h('tbody', {}, shown.map((st) => h('tr', { dataset: { status: st } },
      h('td', {}, statusBadge(st)),
      used.map((k) => h('td', { class: 'num', dataset: { kind: k } }, String(p.counts[st][k] || 0))),
      h('td', { class: 'num', dataset: { kind: 'all' } }, String(sumCounts(p.counts[st])))))));
}

function agentHref(p, a) {
  return link('p', p.project, 'agent', { principal: a.principal, agent: a.agent });
}

function agentsTable(p, done) {
  if (!p.agents.length) return h('p', { class: 'muted small' }, 'no agent has worked here yet');
  const curator = can(p.project, 'curator');
  return h('table', { class: 'table', 'data-testid': 'fleet-agents' },
    h('thead', {}, h('tr', {}, ['agent', 'principal', 'last active', 'memories', ''].map((t) => h('th', {}, t)))),
    h('tbody', {}, p.agents.map((a) => h('tr', { 'data-testid': 'fleet-agent', dataset: {
      agent: a.agent, principal: a.principal } },
    h('td', {}, h('a', { href: agentHref(p, a), 'data-testid': 'agent-link' }, a.agent || '(unnamed)')),
    h('td', {}, a.principal),
    h('td', {}, timeEl(a.last_active_at)),
    h('td', { class: 'num', 'data-testid': 'agent-memories' }, String(sumCounts(a.memories))),
    h('td', {}, a.quarantined ? h('span', { class: 'badge status status-quarantined',
      'data-testid': 'agent-quarantined' }, 'quarantined') : null,
    curator ? agentQuarantine(p, a, done) : null)))));
}

/** Quarantine this row's agent identity, or (an unnamed agent) its principal. */
function agentQuarantine(p, a, done) {
  const preset = a.agent ? { field: 'agent', value: a.agent } : { field: 'principal', value: a.principal };
  return quarantineButton(p.project, preset, done, 'Quarantine…');
}

function callersTable(p) {
  if (!p.callers.length) return null;
  const audit = can(p.project, 'curator');
  return h('details', { class: 'callers' },
    h('summary', {}, `Activity by caller (${p.callers.length})`),
    h('table', { class: 'table', 'data-testid': 'fleet-callers' },
      h('thead', {}, h('tr', {}, ['principal', 'channel', 'client', 'reads', 'writes', 'last'].map((t) => h('th', {}, t)))),
      h('tbody', {}, p.callers.map((c) => h('tr', {},
        h('td', {}, audit ? h('a', { href: link('p', p.project, 'audit', {
          principal: c.principal, channel: c.channel, client: c.client || '' }) }, c.principal) : c.principal),
        h('td', {}, c.channel), h('td', {}, clientLabel(c.client)),
        h('td', { class: 'num' }, String(c.reads)), h('td', { class: 'num' }, String(c.writes)),
        h('td', {}, timeEl(c.last_event_at)))))));
}

function projectPanel(p, done) {
  const reads = total(p.activity, 'reads');
  const writes = total(p.activity, 'writes');
  return h('section', { class: 'panel fleet-project', 'data-testid': 'fleet-project', dataset: { project: p.project } },
    h('div', { class: 'card-top' },
      h('h2', {}, h('a', { href: link('p', p.project) }, p.name),
        p.archived ? h('span', { class: 'badge status status-archived' }, 'archived') : null),
      h('span', { class: 'muted small' }, 'active ', timeEl(p.last_active_at))),
    h('div', { class: 'fleet-facts' },
      h('a', { class: 'fact', href: link('p', p.project, 'review') },
        h('b', { 'data-testid': 'fleet-review' }, String(p.review)), ' waiting for review'),
      h('span', { class: 'fact' }, h('b', { 'data-testid': 'fleet-proposed' }, String(p.proposed)), ' proposed'),
      h(can(p.project, 'curator') ? 'a' : 'span', { class: 'fact', 'data-testid': 'fleet-trust-link',
        href: can(p.project, 'curator') ? link('p', p.project, 'trust') : undefined },
      h('b', { 'data-testid': 'fleet-quarantines' }, String(p.quarantines.length)), ' open quarantines'),
      h('span', { class: 'fact' }, h('b', { 'data-testid': 'fleet-reads' }, String(reads)), ' reads · ',
        h('b', { 'data-testid': 'fleet-writes' }, String(writes)), ' writes')),
    h('div', { class: 'fleet-grid' },
      h('div', {}, activityChart(p.activity), legend()),
      countsTable(p)),
    p.quarantines.length ? h('ul', { class: 'quarantines', 'data-testid': 'fleet-quarantine-list' },
      p.quarantines.map((q) => h('li', { 'data-testid': 'fleet-quarantine' },
        h('span', { class: 'badge status status-quarantined' }, 'quarantined'), ' ',
        `${q.field} `, h('b', {}, q.value), ` · ${plural(q.memories, 'memory', 'memories')} · `,
        timeEl(q.created_at),
        can(p.project, 'curator') ? h('span', { class: 'row-actions' }, quarantineActions(p.project, q, done)) : null)))
      : null,
    agentsTable(p, done),
    callersTable(p));
}

export async function fleetView({ root, query, isCurrent, rerender }) {
  setCrumbs(['Projects', link()], ['Fleet']);
  const days = Number(query.get('days')) || 14;
  const dash = await api.fleet(days);
  const agents = dash.projects.reduce((n, p) => n + p.agents.length, 0);
  const review = dash.projects.reduce((n, p) => n + p.review, 0);
  root.append(pageHeader({
    title: 'Fleet',
    subtitle: `${plural(dash.projects.length, 'project')} · ${plural(agents, 'agent identity', 'agent identities')} · ${plural(review, 'item', 'items')} waiting for review · last ${dash.days} days (UTC)`,
  }));
  if (!dash.projects.length) {
    root.append(emptyState('No projects you can read', 'Projects appear here once your token may read them.'));
    return;
  }
  const done = () => { if (isCurrent()) rerender(); };
  root.append(...dash.projects.map((p) => projectPanel(p, done)));
}

const SCAN_PAGES = 5;

/** One agent identity in one project: the memories its provenance names (the newest
 * 500 memories of any status are scanned) and a link to the audit log by principal. */
export async function agentView({ root, params, query }) {
  const [projectId] = params;
  const principal = query.get('principal') || '';
  const agent = query.get('agent') || '';
  setCrumbs(['Projects', link()], ['Fleet', link('fleet')], [projectId, link('p', projectId)],
    [agent || '(unnamed agent)']);
  const dash = await api.fleet(14);
  const p = dash.projects.find((x) => x.project === projectId);
  const a = p && p.agents.find((x) => x.principal === principal && x.agent === agent);
  if (!a) throw Object.assign(new Error('This agent has not worked in this project.'), { status: 404 });
  const mine = [];
  let cursor = null;
  for (let i = 0; i < SCAN_PAGES; i++) {
    const page = await api.memories(projectId, { status: statuses(), limit: 100, cursor });
    mine.push(...page.memories.filter((m) => m.provenance.principal === principal
      && identity(m.provenance) === agent));
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  const audit = can(projectId, 'curator') ? h('a', { class: 'btn btn-secondary', 'data-testid': 'agent-audit',
    href: link('p', projectId, 'audit', { principal }) }, 'Audit trail') : null;
  root.append(pageHeader({
    title: agent || '(unnamed agent)',
    subtitle: `${principal} in ${p.name} · active `,
    meta: h('p', { class: 'muted small' }, 'last active ', timeEl(a.last_active_at),
      a.quarantined ? h('span', { class: 'badge status status-quarantined' }, 'quarantined') : null),
    actions: audit ? [audit] : [],
  }));
  root.append(h('p', { class: 'muted small', 'data-testid': 'agent-memory-count' },
    `${plural(mine.length, 'memory', 'memories')} written by this agent`,
    cursor ? ' (among the newest 500)' : ''));
  root.append(mine.length ? h('div', { class: 'memory-list' }, mine.map((m) => memoryRow(m)))
    : emptyState('No memories', 'This agent has read here but written nothing.'));
}

/** The identity rule of the server (memsvc.store.fleet.provenance_identity). */
function identity(prov) {
  if (prov.channel === 'web') return '';
  if (prov.agent) return prov.agent;
  return prov.channel === 'mcp' ? prov.client || '' : '';
}
