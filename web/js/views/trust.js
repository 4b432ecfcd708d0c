// Trust in one project: its review policy (which kinds, written through which channels
// at which roles, land `proposed`) and its quarantines — put one in place, restore it, or
// delete the memories it hides. Everything goes through the fleet REST endpoints, which
// audit each change; the quarantine dialog is shared with the fleet dashboard and the
// memory page.
import { api } from '../api.js';
import { h, fill, link, plural, timeEl } from '../dom.js';
import { can, meta } from '../session.js';
import {
  act, button, confirmAction, emptyState, openDialog, pageHeader, projectNav, setCrumbs,
} from '../ui.js';
import { field } from './projects.js';

const FIELDS = [['agent', 'Agent identity'], ['principal', 'Principal'], ['session', 'Session']];

/** Ask what to quarantine (preset from the row it was opened on); resolves the created
 * quarantine, or null when cancelled or refused. */
export async function quarantineDialog(projectId, preset = {}) {
  const values = await openDialog((close) => {
    const which = h('select', { name: 'field', 'data-testid': 'quarantine-field' },
      FIELDS.map(([v, label]) => h('option', { value: v, selected: v === (preset.field || 'agent') }, label)));
    const value = h('input', { name: 'value', required: true, maxlength: 200, value: preset.value || '',
      'data-testid': 'quarantine-value', autofocus: true });
    const since = h('input', { name: 'since', type: 'datetime-local', 'data-testid': 'quarantine-since' });
    const reason = h('input', { name: 'reason', maxlength: 500, 'data-testid': 'quarantine-reason',
      placeholder: 'why (kept in the audit log)' });
    const submit = (event) => {
      event.preventDefault();
      const body = { [which.value]: value.value.trim(), reason: reason.value.trim() };
      if (since.value) body.since = new Date(since.value).toISOString();
      close(body);
    };
    return h('form', { class: 'dialog-body', on: { submit } },
      h('h2', {}, 'Quarantine memories'),
      h('p', {}, `Every memory of ${projectId} written by this agent identity, principal or session`,
        ' (optionally only since a time) leaves search and agent context at once. Restore brings',
        ' each back to the status it had.'),
      h('div', { class: 'field-row' }, field('By', which), field('Value', value)),
      h('div', { class: 'field-row' }, field('Since (optional, your local time)', since), field('Reason', reason)),
      h('div', { class: 'dialog-actions' }, button('Cancel', () => close(null), { testid: 'cancel' }),
        h('button', { type: 'submit', class: 'btn btn-danger', 'data-testid': 'quarantine-confirm' },
          'Quarantine')));
  }, { wide: true, testid: 'quarantine-dialog' });
  if (!values) return null;
  const made = await act(null, () => api.quarantine(projectId, values), 'Quarantined');
  return made && made !== true ? made : null;
}

/** A button opening the quarantine dialog preset to ``preset``; ``done`` runs after one. */
export function quarantineButton(projectId, preset, done, label = 'Quarantine…') {
  return button(label, async () => {
    if (await quarantineDialog(projectId, preset) && done) done();
  }, { kind: 'danger', testid: `quarantine-${preset.field || 'agent'}`,
    title: `Hide every memory this ${preset.field || 'agent'} wrote here` });
}

/** Restore and "delete the memories" for one open quarantine. */
export function quarantineActions(projectId, q, done) {
  const restore = button('Restore', async () => {
    if (await act(restore, () => api.restoreQuarantine(projectId, q.id), 'Restored')) done();
  }, { testid: 'quarantine-restore', title: 'Give every memory its former status back' });
  const purge = button('Delete the memories', async () => {
    if (!await confirmAction({
      title: 'Delete the quarantined memories?',
      message: `${plural(q.memory_ids ? q.memory_ids.length : q.memories, 'memory', 'memories')} hidden from ${q.field} ${q.value}`
        + ' are deleted (their versions and audit trail stay; each can be restored one by one).',
      confirm: 'Delete them', danger: true,
    })) return;
    if (await act(purge, () => api.deleteQuarantined(projectId, q.id), 'Quarantined memories deleted')) done();
  }, { kind: 'danger', testid: 'quarantine-delete' });
  return [restore, purge];
}

function quarantineState(q) {
  if (q.deleted_at) return ['deleted', 'memories deleted ', q.deleted_by, q.deleted_at];
  if (q.restored_at) return ['restored', 'restored ', q.restored_by, q.restored_at];
  return ['open', null, null, null];
}

function quarantineItem(projectId, q, curator, done) {
  const [state, verb, by, at] = quarantineState(q);
  return h('li', { class: `quarantine quarantine-${state}`, 'data-testid': 'quarantine-item',
    dataset: { id: q.id, state } },
  h('span', { class: `badge status status-${state === 'open' ? 'quarantined' : state}` },
    state === 'open' ? 'quarantined' : state), ' ',
  `${q.field} `, h('b', { 'data-testid': 'quarantine-value' }, q.value),
  ` · ${plural(q.memory_ids.length, 'memory', 'memories')} · by ${q.created_by} `, timeEl(q.created_at),
  q.since ? [' · written since ', timeEl(q.since)] : null,
  q.reason ? h('span', { class: 'muted' }, ` · “${q.reason}”`) : null,
  verb ? h('span', { class: 'muted small' }, ` · ${verb}by ${by} `, timeEl(at)) : null,
  state === 'open' && curator ? h('span', { class: 'row-actions' }, quarantineActions(projectId, q, done)) : null);
}

// -- review policy -----------------------------------------------------------------------

function checks(name, options, chosen, disabled) {
  return h('span', { class: 'checks', 'data-testid': `policy-${name}` }, options.map((v) => h('label', { class: 'check' },
    h('input', { type: 'checkbox', name, value: v, checked: Boolean(chosen && chosen.includes(v)), disabled }), ` ${v} `)));
}

function chosen(row, name) {
  return [...row.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
}

function ruleRow(rule, disabled) {
  const row = h('tr', { 'data-testid': 'policy-rule' },
    h('td', {}, checks('kinds', meta().kinds, rule.kinds, disabled)),
    h('td', {}, checks('channels', meta().channels, rule.channels, disabled)),
    h('td', {}, checks('roles', meta().roles, rule.roles, disabled)),
    h('td', {}, disabled ? null : button('Remove', () => row.remove(), { kind: 'ghost', testid: 'policy-remove' })));
  return row;
}

function readRules(body) {
  return [...body.children].map((row) => {
    const channels = chosen(row, 'channels');
    const roles = chosen(row, 'roles');
    return { kinds: chosen(row, 'kinds'), channels: channels.length ? channels : null, roles: roles.length ? roles : null };
  }).filter((r) => r.kinds.length);
}

function policyPanel(projectId, policy, isCurrent) {
  const admin = can(projectId, 'admin');
  const body = h('tbody', {}, policy.propose.map((r) => ruleRow(r, !admin)));
  const showProposed = h('input', { type: 'checkbox', checked: policy.show_proposed, disabled: !admin,
    'data-testid': 'policy-show-proposed' });
  const save = button('Save policy', async () => {
    if (!isCurrent()) return;
    const next = { propose: readRules(body), show_proposed: showProposed.checked };
    const saved = await act(save, () => api.setReviewPolicy(projectId, next), 'Review policy saved');
    if (saved && saved !== true && isCurrent()) fill(body, saved.propose.map((r) => ruleRow(r, false)));
  }, { kind: 'primary', testid: 'policy-save' });
  const add = button('Add rule', () => body.append(ruleRow({ kinds: [], channels: null, roles: null }, false)),
    { kind: 'ghost', testid: 'policy-add' });
  return h('section', { class: 'panel', 'data-testid': 'review-policy' },
    h('h2', { class: 'panel-title' }, 'Review policy'),
    h('p', { class: 'muted small' }, 'A write lands ', h('b', {}, 'proposed'), ' (waiting in the review queue,',
      ' never served as a rule) when it matches a rule: one of its kinds, and — when any are ticked — one of its',
      ' channels and one of its roles (the writer’s role here). Nothing ticked means any.'),
    h('table', { class: 'table policy-table' },
      h('thead', {}, h('tr', {}, ['kinds', 'channels (none: any)', 'roles (none: any)', ''].map((t) => h('th', {}, t)))),
      body),
    policy.propose.length ? null : h('p', { class: 'muted small', 'data-testid': 'policy-empty' },
      'No rule: every write lands active, whoever wrote it.'),
    h('label', { class: 'check' }, showProposed, ' Context packs show proposed memories in their own section'),
    admin ? h('div', { class: 'review-actions' }, add, save)
      : h('p', { class: 'notice' }, 'Admins change the policy; you can look.'));
}

export async function trustView({ root, params: [projectId], isCurrent, rerender }) {
  const [project, policy, quarantines] = await Promise.all([
    api.project(projectId), api.reviewPolicy(projectId), api.quarantines(projectId)]);
  setCrumbs(['Projects', '#/'], [project.name, link('p', projectId)], ['Trust']);
  const curator = can(projectId, 'curator');
  const done = () => { if (isCurrent()) rerender(); };
  const open = quarantines.filter((q) => !q.restored_at && !q.deleted_at).length;
  root.append(
    pageHeader({
      title: 'Trust',
      subtitle: 'Review before trust, and quarantine by who wrote it.',
      actions: curator ? [quarantineButton(projectId, { field: 'agent' }, done)] : [],
    }),
    projectNav(projectId, 'trust'),
    policyPanel(projectId, policy, isCurrent),
    h('section', { class: 'panel', 'data-testid': 'quarantines' },
      h('h2', { class: 'panel-title' }, 'Quarantines', h('span', { class: 'muted' }, ` ${open} open`)),
      quarantines.length ? h('ul', { class: 'quarantines' },
        quarantines.map((q) => quarantineItem(projectId, q, curator, done)))
        : emptyState('No quarantines', 'Quarantine an agent from the fleet dashboard, a memory’s provenance or the button above.')),
  );
}


