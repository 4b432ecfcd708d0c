// Create, edit and supersede forms. Edits send only what changed, with the version they
// started from, so two curators cannot silently overwrite each other (409 instead).
import { api } from '../api.js';
import { h } from '../dom.js';
import { kinds, act, button, kindBadge, openDialog } from '../ui.js';
import { meta } from '../session.js';
import { field } from './projects.js';


function list(text) {
  return text.split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
}

function form({ heading, intro, memory, mode, submitLabel }) {
  return openDialog((close) => {
    const kind = h('select', { name: 'kind', 'data-testid': 'field-kind' },
      kinds().map((k) => h('option', { value: k, selected: k === (memory?.kind || 'fact') }, k)));
    const lockedText = mode === 'edit' && meta().immutable_kinds.includes(memory.kind);
    const content = h('textarea', {
      name: 'content', rows: 9, required: true, value: memory?.content || '', readonly: lockedText,
      'data-testid': 'field-content', autofocus: !lockedText,
    });
    const title = h('input', { name: 'title', value: memory?.title || '', maxlength: 200, 'data-testid': 'field-title' });
    const tags = h('input', { name: 'tags', value: (memory?.tags || []).join(', '), placeholder: 'db, backend' });
    const paths = h('input', { name: 'paths', value: (memory?.paths || []).join(', '), placeholder: 'src/db/**' });
    const importance = h('input', { name: 'importance', type: 'number', min: 0, max: 1, step: 0.05,
      value: String(memory?.importance ?? 0.5) });
    const pinned = h('input', { name: 'pinned', type: 'checkbox', checked: Boolean(memory?.pinned) });
    const origin = h('input', { name: 'origin', placeholder: 'file, commit, URL or conversation it came from' });

    const submit = (event) => {
      event.preventDefault();
      close({
        kind: kind.value, content: content.value, title: title.value.trim() || null,
        tags: list(tags.value), paths: list(paths.value),
        importance: Number(importance.value), pinned: pinned.checked, origin: origin.value.trim(),
      });
    };
    return h('form', { class: 'dialog-body editor', on: { submit } },
      h('h2', {}, heading, memory && mode !== 'create' ? [' ', kindBadge(memory.kind)] : null),
      intro ? h('p', { class: 'muted' }, intro) : null,
      mode === 'create' ? field('Kind', kind) : null,
      field('Title', title),
      field('Content', content, lockedText
        ? `A ${memory.kind}'s text is never edited in place: supersede it so its history stays queryable.`
        : null),
      h('div', { class: 'field-row' }, field('Tags (comma-separated)', tags), field('Paths (globs)', paths)),
      h('div', { class: 'field-row' },
        field('Importance (0–1)', importance),
        h('label', { class: 'check' }, pinned, ' Pinned (always ranked first)')),
      mode === 'edit' ? null : field('Origin (optional)', origin),
      h('div', { class: 'dialog-actions' }, button('Cancel', () => close(null)),
        h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'save' }, submitLabel)));
  }, { wide: true });
}

function draftOf(values) {
  const draft = {
    kind: values.kind, content: values.content, title: values.title, tags: values.tags,
    paths: values.paths, importance: values.importance, pinned: values.pinned,
  };
  if (values.origin) draft.provenance = { origin: values.origin, origin_type: 'other' };
  return draft;
}

export async function newMemory(project) {
  const values = await form({ heading: 'New memory', mode: 'create', submitLabel: 'Add memory' });
  if (!values) return null;
  return act(null, () => api.addMemory(project, draftOf(values)), 'Memory added');
}

export async function editMemory(project, memory) {
  const values = await form({ heading: 'Edit memory', memory, mode: 'edit', submitLabel: 'Save changes' });
  if (!values) return null;
  const patch = {};
  if (values.content !== memory.content && !meta().immutable_kinds.includes(memory.kind)) patch.content = values.content;
  if ((values.title || null) !== (memory.title || null)) patch.title = values.title || '';
  if (values.tags.join('\n') !== memory.tags.join('\n')) patch.tags = values.tags;
  if (values.paths.join('\n') !== memory.paths.join('\n')) patch.paths = values.paths;
  if (values.importance !== memory.importance) patch.importance = values.importance;
  if (values.pinned !== memory.pinned) patch.pinned = values.pinned;
  if (!Object.keys(patch).length) return null;
  patch.expected_version = memory.version;
  return act(null, () => api.updateMemory(project, memory.id, patch), 'Saved as a new version');
}

export async function supersedeMemory(project, memory) {
  const values = await form({
    heading: 'Supersede', memory, mode: 'supersede', submitLabel: 'Supersede',
    intro: `The new ${memory.kind} replaces this one, which stays in the history as superseded.`,
  });
  if (!values) return null;
  return act(null, () => api.supersede(project, memory.id, draftOf({ ...values, kind: memory.kind })),
    `${memory.kind} superseded`);
}
