// The review queue: memories flagged at write time as possible duplicates of, or
// conflicts with, an active memory — side by side, settled with one decision each.
import { api } from '../api.js';
import { append, h, fill, link, plural, timeEl } from '../dom.js';
import { can, meta } from '../session.js';
import {
  act, button, confirmAction, emptyState, kindBadge, pageHeader, pinBadge, projectNav, setCrumbs,
  statusBadge, tagChip,
} from '../ui.js';

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
    'New memories that look like duplicates of, or conflicts with, an active rule or decision appear here.');

  append(root, [pageHeader({
    title: 'Review queue',
    subtitle: `Flagged at write time: near-duplicates (cosine ≥ ${meta().near_duplicate_cosine}) and new rules or decisions close to an active one of the same kind (cosine ≥ ${meta().conflict_cosine}: possible conflicts).`,
    meta: h('p', { class: 'muted' }, count),
  }), projectNav(projectId, 'review'), curator ? null : h('p', { class: 'notice' }, 'Curators resolve the queue; you can look.'), list, more]);
  await load();
}

function reviewCard(projectId, item, curator, isCurrent, onResolved) {
  const { memory, other, reason, similarity } = item;
  const card = h('article', { class: 'card review-card', 'data-testid': 'review-item', dataset: { id: memory.id } });
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
