// One memory: its text, provenance, versions with a diff, supersession chain, review
// flag, and the audit events that touched it (reads included). Curation actions here.
// All of it comes from one request (GET …/memories/{id}/details).
import { api } from '../api.js';
import { diffText } from '../diff.js';
import { absoluteTime, append, h, fill, link, plural, timeEl } from '../dom.js';
import { can, canChange, meta } from '../session.js';
import {
  act, button, clientLabel, confirmAction, kindBadge, memoryHeading, pageHeader, pinBadge, reviewBadge,
  setCrumbs, statusBadge, tagChip,
} from '../ui.js';
import { editMemory, supersedeMemory } from './editor.js';
import { quarantineButton } from './trust.js';

export async function memoryView({ root, params: [projectId, memoryId], rerender, isCurrent }) {
  const details = await api.details(projectId, memoryId, { audit_hide_reads_from: 'web' });
  const { project, memory, versions, chain } = details;
  const heading = memoryHeading(memory);
  setCrumbs(['Projects', '#/'], [project.name, link('p', projectId)], [memoryHeading(memory, 40)]);

  const deleted = memory.status === 'deleted';
  const content = h('pre', { class: 'content', 'data-testid': 'memory-content' }, memory.content);
  root.dataset.memoryId = memory.id;
  append(root, [
    pageHeader({
      title: heading,
      meta: h('div', { class: 'meta-line' }, kindBadge(memory.kind), statusBadge(memory.status),
        memory.pinned ? pinBadge() : null, reviewBadge(memory),
        h('span', { class: 'badge version', 'data-testid': 'version' }, `v${memory.version}`),
        h('span', { class: 'mono muted small', 'data-testid': 'memory-id' }, memory.id)),
      actions: curationActions(projectId, memory, rerender, isCurrent),
    }),
    deleted ? deletedNotice(projectId, memory, versions, rerender, isCurrent) : null,
    h('div', { class: 'detail-layout' },
      h('div', { class: 'detail-main' },
        reviewNotice(projectId, memory),
        h('section', { class: 'panel' }, h('h2', { class: 'panel-title' }, 'Content'), content,
          memory.redactions ? h('p', { class: 'muted small' },
            `${plural(memory.redactions, 'secret')} redacted before storage.`) : null),
        versionsPanel(versions),
        chain.length > 1 ? chainPanel(projectId, memory, chain) : null,
        auditPanel(projectId, memory.id, details.audit, isCurrent)),
      h('aside', { class: 'detail-side' }, detailsPanel(projectId, memory),
        provenancePanel(projectId, memory, rerender, isCurrent))),
  ]);
}

function deletedNotice(projectId, memory, versions, rerender, isCurrent) {
  const last = versions[versions.length - 1];
  const by = last ? last.changed_by.agent || last.changed_by.principal : null;
  return h('div', { class: 'notice notice-deleted', role: 'status', 'data-testid': 'deleted-notice' },
    h('b', {}, 'This memory is deleted. '),
    'It is out of lists, search and agent context; its versions and audit trail are kept',
    last ? [' (deleted by ', by, ' ', timeEl(last.changed_at), ')'] : null, '. ',
    canChange(projectId, memory) ? restoreButton(projectId, memory, rerender, isCurrent) : null);
}

function restoreButton(projectId, memory, rerender, isCurrent) {
  // bound to this page's memory id, acting only while this page is shown
  const restore = button('Restore', async () => {
    if (!isCurrent()) return;
    if (await act(restore, () => api.restoreMemory(projectId, memory.id), 'Restored')
      && isCurrent()) rerender();
  }, { testid: 'restore' });
  return restore;
}

function curationActions(projectId, memory, rerender, isCurrent) {
  if (!canChange(projectId, memory) || memory.status === 'deleted') return [];
  // Every action acts on this page's memory only, and only while this page is shown.
  const live = (fn) => async (event) => { if (isCurrent()) await fn(event); };
  const actions = [];
  const active = memory.status === 'active';
  if (memory.status !== 'superseded') {
    actions.push(button('Edit', live(async () => {
      if (await editMemory(projectId, memory) && isCurrent()) rerender();
    }), { testid: 'edit' }));
    const pin = button(memory.pinned ? 'Unpin' : 'Pin', live(async () => {
      if (await act(pin, () => api.updateMemory(projectId, memory.id,
        { pinned: !memory.pinned, expected_version: memory.version }),
      memory.pinned ? 'Unpinned' : 'Pinned') && isCurrent()) rerender();
    }), { testid: 'pin' });
    actions.push(pin);
  }
  if (active && meta().immutable_kinds.includes(memory.kind)) {
    actions.push(button('Supersede', live(async () => {
      const created = await supersedeMemory(projectId, memory);
      if (created && isCurrent()) location.hash = link('p', projectId, 'm', created.id);
    }), { testid: 'supersede' }));
  }
  if (active || memory.status === 'archived') {
    const archive = button(active ? 'Archive' : 'Restore', live(async () => {
      if (active && !await confirmAction({
        title: `Archive this ${memory.kind}?`,
        message: 'Archived memories leave search and agent context; you can restore them later.',
        quote: memory.content, confirm: 'Archive', subject: memory,
      })) return;
      if (!isCurrent()) return;
      if (await act(archive, () => api.updateMemory(projectId, memory.id,
        { status: active ? 'archived' : 'active', expected_version: memory.version }),
      active ? 'Archived' : 'Restored') && isCurrent()) rerender();
    }), { testid: 'archive' });
    actions.push(archive);
  }
  const del = button('Delete', live(async () => {
    const ok = await confirmAction({
      title: `Delete this ${memory.kind}?`,
      message: 'It disappears from lists, search and agent context. Its versions and audit trail are kept.',
      quote: memory.content, confirm: 'Delete', danger: true, subject: memory,
    });
    // A dialog is cancelled when the page changes; this check covers a confirmation that
    // raced a navigation.
    if (!ok || !isCurrent()) return;
    if (await act(del, () => api.deleteMemory(projectId, memory.id), 'Memory deleted') && isCurrent()) {
      location.hash = link('p', projectId);
    }
  }), { kind: 'danger', testid: 'delete' });
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

function provenancePanel(projectId, memory, rerender, isCurrent) {
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
  return h('section', { class: 'panel' }, h('h2', { class: 'panel-title' }, 'Provenance'), dl(rows),
    can(projectId, 'curator') ? quarantineBar(projectId, p, () => { if (isCurrent()) rerender(); }) : null);
}

/** Quarantine everything this memory's agent identity, principal or session wrote here. */
function quarantineBar(projectId, p, done) {
  const agent = p.channel === 'web' ? '' : p.agent || (p.channel === 'mcp' ? p.client : '') || '';
  const presets = [['agent', agent, 'Quarantine agent'], ['principal', p.principal, 'Quarantine principal'],
    ['session', p.session, 'Quarantine session']].filter(([, value]) => value);
  return h('div', { class: 'panel-actions', 'data-testid': 'provenance-quarantine' },
    presets.map(([field, value, label]) => quarantineButton(projectId, { field, value }, done, label)));
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

function chainPanel(projectId, memory, chain) {
  return h('section', { class: 'panel', 'data-testid': 'chain' },
    h('h2', { class: 'panel-title' }, 'Supersession chain'),
    h('ol', { class: 'chain' }, chain.map((m) => h('li', { class: m.id === memory.id ? 'current' : '' },
      m.missing ? h('span', { class: 'muted' }, `${m.id.slice(-8)} (deleted)`) : [
        h('a', { href: link('p', projectId, 'm', m.id) }, memoryHeading(m, 80)),
        ' ', statusBadge(m.status), h('span', { class: 'muted small' }, ' ', timeEl(m.created_at)),
      ]))));
}

function auditPanel(projectId, memoryId, first, isCurrent) {
  const panel = h('section', { class: 'panel', 'data-testid': 'memory-audit' },
    h('h2', { class: 'panel-title' }, 'Audit trail'));
  if (!first) {
    panel.append(h('p', { class: 'muted small' }, 'The audit trail is visible to curators.'));
    return panel;
  }
  const body = h('tbody');
  const more = button('Older events', () => load(), { kind: 'ghost', testid: 'memory-audit-more' });
  // The first page came with the details, without the inspector's own reads.
  const showWeb = h('input', { type: 'checkbox', 'data-testid': 'memory-audit-show-web-reads' });
  let cursor = null;
  let loads = 0;
  const show = (page) => {
    body.append(...page.events.map((e) => h('tr', {},
      h('td', {}, timeEl(e.ts)), h('td', {}, e.principal), h('td', { class: 'small' }, clientLabel(e.client)),
      h('td', {}, e.channel), h('td', { class: 'mono' }, e.action),
      h('td', {}, h('span', { class: `badge outcome-${e.outcome}` }, e.outcome)))));
    cursor = page.next_cursor;
    more.hidden = !cursor;
  };
  const load = async () => {
    const mine = loads;
    const params = { limit: 50, cursor, hide_reads_from: showWeb.checked ? undefined : 'web' };
    try {
      const page = await api.memoryAudit(projectId, memoryId, params);
      if (mine === loads && isCurrent()) show(page);
    } catch (err) {
      if (mine === loads && isCurrent()) panel.append(h('p', { class: 'error-text' }, err.detail || String(err)));
    }
  };
  showWeb.addEventListener('change', () => {
    loads += 1;
    cursor = null;
    body.replaceChildren();
    load();
  });
  panel.append(h('div', { class: 'panel-bar' },
    h('p', { class: 'muted small' }, 'Every read and write that touched or returned this memory, newest first.'),
    h('label', { class: 'toggle small' }, showWeb, ' show the inspector’s own reads')),
    h('table', { class: 'table compact' }, h('thead', {}, h('tr', {},
      ['When', 'Who', 'Client', 'Channel', 'Action', 'Outcome'].map((t) => h('th', { scope: 'col' }, t)))), body),
    more);
  show(first);
  return panel;
}
