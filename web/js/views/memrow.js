// One memory in a list: kind, status, pin and review flags, its heading (title or first
// line), the rest of its text, tags, who wrote it, when.
import { h, excerpt, link, timeEl } from '../dom.js';
import { kindBadge, memoryHeading, pinBadge, reviewBadge, statusBadge, tagChip } from '../ui.js';

export function memoryRow(memory, { extra, side } = {}) {
  const heading = memoryHeading(memory);
  const prov = memory.provenance;
  const who = [prov.agent || prov.principal, prov.client].filter(Boolean).join(' · ');
  // Without a title the heading is the first line; show the whole text below only when
  // there is more than that line.
  const rest = memory.title ? memory.content : memory.content.split('\n').slice(1).join(' ');
  return h('article', {
    class: `mem-row${memory.pinned ? ' is-pinned' : ''} status-row-${memory.status}`,
    'data-testid': 'memory-row', dataset: { id: memory.id, status: memory.status },
  },
  h('div', { class: 'mem-kind' }, kindBadge(memory.kind)),
  h('div', { class: 'mem-main' },
    h('a', { class: 'mem-link', href: link('p', memory.project, 'm', memory.id) }, heading),
    rest.trim() ? h('p', { class: 'mem-content' }, excerpt(rest, 260)) : null,
    h('div', { class: 'mem-meta' },
      memory.tags.map((t) => tagChip(t)),
      h('span', { class: 'muted' }, `${who} via ${prov.channel}`),
      h('span', { class: 'muted' }, timeEl(memory.updated_at)),
      memory.version > 1 ? h('span', { class: 'muted' }, `v${memory.version}`) : null),
    extra || null),
  h('div', { class: 'mem-side' },
    statusBadge(memory.status),
    memory.pinned ? pinBadge() : null,
    reviewBadge(memory),
    side || null));
}

const PART_LABELS = {
  dense_rank: 'semantic rank',
  dense_score: 'semantic similarity',
  lexical_rank: 'keyword rank',
  lexical_score: 'keyword score (BM25)',
  time_match: 'names its date',
  episode: 'episode strength',
  fused: 'combined signals',
  kind_weight: '× kind weight',
  pin: '× pinned',
  importance: '× importance',
  recency: '× recency',
  final: '= final score',
};

export function scoreParts(parts) {
  return h('table', { class: 'parts', 'data-testid': 'score-parts' },
    h('tbody', {}, Object.entries(parts).map(([key, value]) => h('tr', {},
      h('th', { scope: 'row' }, PART_LABELS[key] || key.replace(/_/g, ' ')),
      h('td', { class: 'mono' }, value === null || value === undefined ? '—' : String(value))))));
}
