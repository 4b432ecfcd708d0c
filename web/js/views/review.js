// The review queue: memories flagged at write time as possible duplicates of, or
// conflicts with, an active memory — side by side, settled with one decision each.
import { api } from '../api.js';
import { append, h, fill, link, plural, timeEl } from '../dom.js';
import { can, meta } from '../session.js';
import {
  act, button, confirmAction, emptyState, kindBadge, openDialog, pageHeader, pinBadge, projectNav,
  setCrumbs, statusBadge, tagChip,
} from '../ui.js';
import { field } from './projects.js';

const ACTIONS = [
  {
    action: 'keep', label: 'Keep both', kind: 'secondary',
    help: 'Both stay active; the flag is cleared.',
  },
  {
    action: 'merge', label: 'Merge into existing', kind: 'secondary', confirm: true,
    help: 'Tags, paths, pin and importance move to the existing memory; the flagged one is deleted.',
  },
  {
    action: 'supersede', label: 'Flagged replaces existing', kind: 'secondary', confirm: true,
    help: 'The existing memory becomes superseded by the flagged one.',
  },
  {
    action: 'delete', label: 'Delete flagged', kind: 'danger', confirm: true,
    help: 'The flagged memory is deleted; the existing one stays.',
  },
];

export async function reviewView({ root, params: [projectId], isCurrent }) {
  const project = await api.project(projectId);
  setCrumbs(['Projects', '#/'], [project.name, link('p', projectId)], ['Review queue']);
  const list = h('div', { class: 'review-list' });
  const count = h('span');
  const more = button('Load more', () => load().catch(() => null), { kind: 'ghost' });
  let cursor = null;
  let shown = 0;
  const curator = can(projectId, 'curator');

  const load = async () => {
    const page = await api.review(projectId, { limit: 20, cursor });
    if (!isCurrent()) return;
    cursor = page.next_cursor;
    shown += page.items.length;
    list.append(...page.items.map((item) => reviewCard(projectId, item, curator, isCurrent, () => {
      shown -= 1;
      renderCount();
      if (!list.children.length) fill(list, done());
    })));
    if (!shown) fill(list, done());
    more.hidden = !cursor;
    renderCount();
  };
  const renderCount = () => fill(count, shown ? `${plural(shown, 'item')} waiting${cursor ? ' (more below)' : ''}` : 'Nothing waiting');
  const done = () => emptyState('The queue is empty',
    'Proposed memories (held back by the review policy) and new memories that look like duplicates of, or conflicts with, an active rule or decision appear here.');

  append(root, [pageHeader({
    title: 'Review queue',
    subtitle: `Proposed memories waiting for approval (the project’s review policy), and flagged at write time: near-duplicates (cosine ≥ ${meta().near_duplicate_cosine}) and new rules or decisions close to an active one of the same kind (cosine ≥ ${meta().conflict_cosine}: possible conflicts).`,
    meta: h('p', { class: 'muted' }, count),
  }), projectNav(projectId, 'review'), curator ? null : h('p', { class: 'notice' }, 'Curators resolve the queue; you can look.'), list, more]);
  await load();
}

function proposalButtons(projectId, memory, isCurrent, settled) {
  const approve = button('Approve', async () => {
    if (!isCurrent()) return;
    if (await act(approve, () => api.approve(projectId, memory.id), 'Approved')) settled();
  }, { kind: 'primary', testid: 'approve', title: 'Make it active: agents get it from now on' });
  const editApprove = button('Edit, then approve', async () => {
    const changes = await proposalEditor(memory);
    if (!changes || !isCurrent()) return;
    if (await act(editApprove, () => api.approve(projectId, memory.id, changes), 'Edited and approved')) settled();
  }, { testid: 'edit-approve' });
  const reject = button('Reject', async () => {
    if (!isCurrent() || !await confirmAction({
      title: 'Reject this proposal?', message: 'It is deleted; its history keeps what was proposed.',
      quote: memory.content, confirm: 'Reject', danger: true, subject: memory,
    }) || !isCurrent()) return;
    if (await act(reject, () => api.reject(projectId, memory.id, 'rejected in the inspector'), 'Rejected')) settled();
  }, { kind: 'danger', testid: 'reject' });
  return [approve, editApprove, reject];
}

/** The curator's changes to a proposal (only the fields that changed), or null. */
function proposalEditor(memory) {
  return openDialog((close) => {
    const content = h('textarea', { name: 'content', rows: 8, required: true, value: memory.content,
      'data-testid': 'proposal-content', autofocus: true });
    const title = h('input', { name: 'title', maxlength: 200, value: memory.title || '', 'data-testid': 'proposal-title' });
    const tags = h('input', { name: 'tags', value: memory.tags.join(', ') });
    const submit = (event) => {
      event.preventDefault();
      const edit = {};
      if (content.value !== memory.content) edit.content = content.value;
      if (title.value.trim() !== (memory.title || '')) edit.title = title.value.trim();
      const tagList = tags.value.split(',').map((t) => t.trim()).filter(Boolean);
      if (tagList.join('\n') !== memory.tags.join('\n')) edit.tags = tagList;
      close(edit);
    };
    return h('form', { class: 'dialog-body editor', on: { submit } },
      h('h2', {}, 'Edit, then approve ', kindBadge(memory.kind)),
      field('Title', title), field('Content', content), field('Tags (comma-separated)', tags),
      h('div', { class: 'dialog-actions' }, button('Cancel', () => close(null)),
        h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'proposal-save' }, 'Approve')));
  }, { wide: true, testid: 'proposal-dialog' });
}

function reviewCard(projectId, item, curator, isCurrent, onResolved) {
  const { memory, other, reason, similarity } = item;
  const card = h('article', { class: 'card review-card', 'data-testid': 'review-item', dataset: { id: memory.id, reason } });
  if (reason === 'proposed') return proposalCard(card, projectId, item, curator, isCurrent, onResolved);
  const buttons = ACTIONS.filter((a) => other || a.action === 'keep' || a.action === 'delete').map((a) => {
    const el = button(a.label, async () => {
      if (!isCurrent()) return;
      if (a.confirm && !await confirmAction({
        title: `${a.label}?`, message: a.help, quote: memory.content,
        confirm: a.label, danger: a.kind === 'danger', subject: memory,
      })) return;
      if (!isCurrent()) return;
      const kept = await act(el, () => api.resolve(projectId, memory.id, a.action), 'Resolved');
      if (kept) {
        card.remove();
        onResolved();
      }
    }, { kind: a.kind, title: a.help, testid: `resolve-${a.action}` });
    return el;
  });
  const label = reason === 'duplicate' ? 'Possible duplicate' : 'Possible conflict';
  fill(card,
    h('div', { class: 'review-head' },
      h('span', { class: `badge flag flag-${reason}` }, label),
      similarity !== null ? h('span', { class: 'muted small', title: 'cosine similarity of the two embeddings' },
        `similarity ${similarity.toFixed(3)}`) : null),
    h('div', { class: 'side-by-side' },
      side('Flagged (newer)', projectId, memory),
      other ? side('Existing', projectId, other)
        : h('div', { class: 'side missing' }, h('h3', {}, 'Existing'),
          h('p', { class: 'muted' }, 'The memory it was flagged against no longer exists.'))),
    curator ? h('div', { class: 'review-actions' }, buttons) : null);
  return card;
}

function proposalCard(card, projectId, { memory, other }, curator, isCurrent, onResolved) {
  const settled = () => { card.remove(); onResolved(); };
  return fill(card,
    h('div', { class: 'review-head' },
      h('span', { class: 'badge flag flag-proposed' }, 'Proposed — waiting for approval'),
      h('span', { class: 'muted small' }, 'the review policy held it back; agents are not served it as a rule')),
    h('div', { class: 'side-by-side' },
      side('Proposed', projectId, memory),
      other ? side('It would replace', projectId, other) : null),
    curator ? h('div', { class: 'review-actions' }, proposalButtons(projectId, memory, isCurrent, settled)) : null);
}

function side(title, projectId, memory) {
  const prov = memory.provenance;
  return h('div', { class: 'side' },
    h('h3', {}, title),
    h('div', { class: 'meta-line' }, kindBadge(memory.kind), statusBadge(memory.status),
      memory.pinned ? pinBadge() : null,
      h('a', { class: 'mono small', href: link('p', projectId, 'm', memory.id) }, memory.id.slice(-8))),
    memory.title ? h('p', { class: 'side-title' }, memory.title) : null,
    h('pre', { class: 'content small-content' }, memory.content),
    memory.tags.length ? h('div', { class: 'mem-meta' }, memory.tags.map((t) => tagChip(t))) : null,
    h('p', { class: 'muted small' }, `${prov.agent || prov.principal} via ${prov.channel} · `, timeEl(memory.created_at)));
}
