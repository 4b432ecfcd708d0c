// One memory: its text, provenance, versions with a diff, supersession chain, review
// flag, and the audit events that touched it (reads included). Curation actions here.
import { api } from '../api.js';
import { diffText } from '../diff.js';
import { absoluteTime, h, fill, link, plural, timeEl } from '../dom.js';
import { can, canChange } from '../session.js';
import {
  act, button, confirmAction, kindBadge, pageHeader, pinBadge, setCrumbs, statusBadge, tagChip,
} from '../ui.js';
import { editMemory, supersedeMemory } from './editor.js';

const CHAINED = new Set(['rule', 'decision']);

export async function memoryView({ root, params: [projectId, memoryId], rerender }) {
  const [project, memory, versions] = await Promise.all([
    api.project(projectId), api.memory(projectId, memoryId), api.history(projectId, memoryId),
  ]);
  const chain = await supersessionChain(projectId, memory);
  const label = memory.title || `${memory.kind} ${memory.id.slice(-6)}`;
  setCrumbs(['Projects', '#/'], [project.name, link('p', projectId)], [label]);

  const content = h('pre', { class: 'content', 'data-testid': 'memory-content' }, memory.content);
  root.append(
    pageHeader({
      title: memory.title || `Untitled ${memory.kind}`,
      meta: h('div', { class: 'meta-line' }, kindBadge(memory.kind), statusBadge(memory.status),
        memory.pinned ? pinBadge() : null,
        h('span', { class: 'badge version', 'data-testid': 'version' }, `v${memory.version}`),
        h('span', { class: 'mono muted small' }, memory.id)),
      actions: curationActions(projectId, memory, rerender),
    }),
    h('div', { class: 'detail-layout' },
      h('div', { class: 'detail-main' },
        reviewNotice(projectId, memory),
        h('section', { class: 'panel' }, h('h2', { class: 'panel-title' }, 'Content'), content,
          memory.redactions ? h('p', { class: 'muted small' },
            `${plural(memory.redactions, 'secret')} redacted before storage.`) : null),
        versionsPanel(versions),
        chain.length > 1 ? chainPanel(projectId, memory, chain) : null,
        auditPanel(projectId, memory.id)),
      h('aside', { class: 'detail-side' }, detailsPanel(projectId, memory), provenancePanel(memory))),
  );
}

function curationActions(projectId, memory, rerender) {
  if (!canChange(projectId, memory) || memory.status === 'deleted') return [];
  const actions = [];
  const active = memory.status === 'active';
  if (memory.status !== 'superseded') {
    actions.push(button('Edit', async () => {
      if (await editMemory(projectId, memory)) rerender();
    }, { testid: 'edit' }));
    const pin = button(memory.pinned ? 'Unpin' : 'Pin', async () => {
      if (await act(pin, () => api.updateMemory(projectId, memory.id,
        { pinned: !memory.pinned, expected_version: memory.version }),
      memory.pinned ? 'Unpinned' : 'Pinned')) rerender();
    }, { testid: 'pin' });
    actions.push(pin);
  }
  if (active && CHAINED.has(memory.kind)) {
    actions.push(button('Supersede', async () => {
      const created = await supersedeMemory(projectId, memory);
      if (created) location.hash = link('p', projectId, 'm', created.id);
    }, { testid: 'supersede' }));
  }
  if (active || memory.status === 'archived') {
    const archive = button(active ? 'Archive' : 'Restore', async () => {
      if (active && !await confirmAction({
        title: 'Archive this memory?',
        message: 'Archived memories leave search and agent context; you can restore them later.',
        quote: memory.content, confirm: 'Archive',
      })) return;
      if (await act(archive, () => api.updateMemory(projectId, memory.id,
        { status: active ? 'archived' : 'active', expected_version: memory.version }),
      active ? 'Archived' : 'Restored')) rerender();
    }, { testid: 'archive' });
    actions.push(archive);
  }
  const del = button('Delete', async () => {
    const ok = await confirmAction({
      title: `Delete this ${memory.kind}?`,
      message: 'It disappears from lists, search and agent context. Its versions and audit trail are kept.',
      quote: memory.content, confirm: 'Delete', danger: true,
    });
    if (ok && await act(del, () => api.deleteMemory(projectId, memory.id), 'Memory deleted')) {
      location.hash = link('p', projectId);
    }
  }, { kind: 'danger', testid: 'delete' });
  actions.push(del);
  return actions;
}

function reviewNotice(projectId, memory) {
  const other = memory.duplicate_of || memory.conflicts_with;
  if (!other || memory.status !== 'active') return null;
  const what = memory.duplicate_of ? 'a possible duplicate of' : 'a possible conflict with';
  return h('div', { class: 'notice' }, `Flagged at write time as ${what} `,
    h('a', { href: link('p', projectId, 'm', other), class: 'mono' }, other.slice(-8)), '. ',
    h('a', { href: link('p', projectId, 'review') }, 'Resolve it in the review queue →'));
}

function detailsPanel(projectId, memory) {
  const rows = [
    ['Tags', memory.tags.length ? memory.tags.map((t) => tagChip(t, link('p', projectId, { tag: t }))) : '—'],
    ['Paths', memory.paths.length ? memory.paths.map((p) => h('div', { class: 'mono' }, p)) : '—'],
    ['Importance', memory.importance.toFixed(2)],
    ['Valid', memory.valid_from || memory.valid_until
      ? `${absoluteTime(memory.valid_from)} → ${absoluteTime(memory.valid_until)}` : 'always'],
    ['Created', timeEl(memory.created_at)],
    ['Updated', timeEl(memory.updated_at)],
    ['Tokens', String(memory.token_count)],
    ['Embedding', h('span', { class: 'mono' }, memory.embedding_model)],
    ['Hash', h('span', { class: 'mono', title: memory.content_hash }, memory.content_hash.slice(0, 16) + '…')],
  ];
  return h('section', { class: 'panel' }, h('h2', { class: 'panel-title' }, 'Details'), dl(rows));
}

function provenancePanel(memory) {
  const p = memory.provenance;
  const rows = [
    ['Who', h('span', { 'data-testid': 'prov-principal' }, p.principal)],
    ['Agent', p.agent || '—'],
    ['Client', [p.client, p.client_version].filter(Boolean).join(' ') || '—'],
    ['Channel', h('span', { class: 'badge channel' }, p.channel)],
    ['When', h('span', {}, absoluteTime(memory.created_at))],
    ['Origin', p.origin ? [p.origin_type ? `${p.origin_type}: ` : '', h('span', { class: 'mono' }, p.origin)] : '—'],
    ['Session', p.session ? h('span', { class: 'mono' }, p.session) : '—'],
    ['Request', p.request_id ? h('span', { class: 'mono small' }, p.request_id) : '—'],
  ];
  return h('section', { class: 'panel' }, h('h2', { class: 'panel-title' }, 'Provenance'), dl(rows));
}

function dl(rows) {
  return h('dl', { class: 'facts' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

const FIELDS = ['title', 'tags', 'paths', 'pinned', 'importance', 'status', 'valid_from', 'valid_until'];

function versionsPanel(versions) {
  const panel = h('section', { class: 'panel', 'data-testid': 'versions' });
  const list = h('ol', { class: 'versions' }, versions.slice().reverse().map((v) => h('li', {},
    h('span', { class: 'badge version' }, `v${v.version}`), ' ',
    h('b', {}, v.change), ' by ', v.changed_by.agent || v.changed_by.principal,
    h('span', { class: 'muted' }, ` via ${v.changed_by.channel} · `), timeEl(v.changed_at))));
  const diffBox = h('div', { class: 'diff-box' });
  const options = versions.map((v) => [v.version, `v${v.version} · ${v.change}`]);
  const from = versionSelect('from', options, versions.length > 1 ? versions[versions.length - 2].version : 1);
  const to = versionSelect('to', options, versions[versions.length - 1].version);
  const show = () => fill(diffBox, diffView(
    versions.find((v) => v.version === Number(from.value)).memory,
    versions.find((v) => v.version === Number(to.value)).memory));
  from.addEventListener('change', show);
  to.addEventListener('change', show);
  fill(panel, h('h2', { class: 'panel-title' }, 'Versions', h('span', { class: 'muted' }, ` ${versions.length}`)),
    list,
    versions.length > 1 ? [h('div', { class: 'compare' }, 'Compare ', from, ' → ', to), diffBox] : null);
  if (versions.length > 1) show();
  return panel;
}

function versionSelect(name, options, value) {
  return h('select', { name, 'aria-label': `${name} version`, 'data-testid': `diff-${name}` },
    options.map(([v, text]) => h('option', { value: String(v), selected: v === value }, text)));
}

function diffView(before, after) {
  const changes = FIELDS.filter((f) => JSON.stringify(before[f]) !== JSON.stringify(after[f]));
  const parts = diffText(before.content, after.content);
  const same = parts.every((p) => p.op === 'eq');
  return [
    same ? h('p', { class: 'muted small' }, 'Content unchanged.')
      : h('pre', { class: 'diff', 'data-testid': 'diff' }, parts.map((p) =>
        p.op === 'eq' ? p.text : h(p.op, {}, p.text))),
    changes.length ? h('table', { class: 'field-diff' }, h('tbody', {}, changes.map((f) => h('tr', {},
      h('th', { scope: 'row' }, f),
      h('td', {}, h('del', {}, show(before[f]))),
      h('td', {}, h('ins', {}, show(after[f]))))))) : null,
  ];
}

function show(value) {
  if (Array.isArray(value)) return value.join(', ') || '—';
  return value === null || value === undefined ? '—' : String(value);
}

async function supersessionChain(projectId, memory) {
  if (!memory.supersedes && !memory.superseded_by) return [memory];
  const chain = [memory];
  const seen = new Set([memory.id]);
  const follow = async (start, key, add) => {
    let id = start[key];
    while (id && !seen.has(id) && seen.size < 25) {
      seen.add(id);
      try {
        const next = await api.memory(projectId, id);
        add(next);
        id = next[key];
      } catch {
        add({ id, missing: true });
        break;
      }
    }
  };
  await follow(memory, 'supersedes', (m) => chain.unshift(m));
  await follow(memory, 'superseded_by', (m) => chain.push(m));
  return chain;
}

function chainPanel(projectId, memory, chain) {
  return h('section', { class: 'panel', 'data-testid': 'chain' },
    h('h2', { class: 'panel-title' }, 'Supersession chain'),
    h('ol', { class: 'chain' }, chain.map((m) => h('li', { class: m.id === memory.id ? 'current' : '' },
      m.missing ? h('span', { class: 'muted' }, `${m.id.slice(-8)} (deleted)`) : [
        h('a', { href: link('p', projectId, 'm', m.id) }, m.title || m.content.slice(0, 80)),
        ' ', statusBadge(m.status), h('span', { class: 'muted small' }, ' ', timeEl(m.created_at)),
      ]))));
}

function auditPanel(projectId, memoryId) {
  const panel = h('section', { class: 'panel', 'data-testid': 'memory-audit' },
    h('h2', { class: 'panel-title' }, 'Audit trail'));
  if (!can(projectId, 'curator')) {
    panel.append(h('p', { class: 'muted small' }, 'The audit trail is visible to curators.'));
    return panel;
  }
  const body = h('tbody');
  const more = button('Older events', () => load(), { kind: 'ghost' });
  let cursor = null;
  const load = async () => {
    const page = await api.memoryAudit(projectId, memoryId, { limit: 50, cursor });
    body.append(...page.events.map((e) => h('tr', {},
      h('td', {}, timeEl(e.ts)), h('td', {}, e.principal), h('td', {}, e.channel),
      h('td', { class: 'mono' }, e.action),
      h('td', {}, h('span', { class: `badge outcome-${e.outcome}` }, e.outcome)))));
    cursor = page.next_cursor;
    more.hidden = !cursor;
  };
  panel.append(h('p', { class: 'muted small' }, 'Every read and write that touched or returned this memory, newest first.'),
    h('table', { class: 'table compact' }, h('thead', {}, h('tr', {},
      ['When', 'Who', 'Channel', 'Action', 'Outcome'].map((t) => h('th', { scope: 'col' }, t)))), body),
    more);
  load().catch((err) => panel.append(h('p', { class: 'error-text' }, err.detail || String(err))));
  return panel;
}
