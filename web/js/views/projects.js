// All projects the caller can read, most recently active first.
import { api } from '../api.js';
import { h, link, plural, timeEl } from '../dom.js';
import { can } from '../session.js';
import { kinds, act, button, emptyState, kindBadge, openDialog, pageHeader, setCrumbs } from '../ui.js';

export async function projectsView({ root, rerender }) {
  setCrumbs(['Projects']);
  const projects = await api.projects();
  const total = projects.reduce((sum, p) => sum + countOf(p), 0);
  const actions = [h('a', { class: 'btn btn-secondary', href: link('fleet'), 'data-testid': 'fleet-home' },
    'Fleet dashboard')];
  if (can('*', 'admin')) actions.push(button('New project', () => newProject(rerender), {
    kind: 'primary', testid: 'new-project' }));
  root.append(pageHeader({
    title: 'Projects',
    subtitle: `${plural(projects.length, 'project')} · ${plural(total, 'active memory', 'active memories')}`,
    actions,
  }));
  if (!projects.length) {
    root.append(emptyState('No projects yet',
      'Agents create projects through MCP or REST (POST /api/v1/projects).'));
    return;
  }
  root.append(h('div', { class: 'project-grid' }, projects.map(projectCard)));
}

function countOf(project) {
  return Object.values(project.counts || {}).reduce((a, b) => a + b, 0);
}

function projectCard(p) {
  const counts = kinds().filter((k) => p.counts[k]).map((k) =>
    h('span', { class: 'count' }, kindBadge(k), h('b', {}, p.counts[k].toLocaleString())));
  return h('a', { class: 'card project-card', href: link('p', p.id), 'data-testid': 'project-card' },
    h('div', { class: 'card-top' },
      h('h2', { class: 'project-name' }, p.name),
      h('span', { class: 'muted small' }, 'active ', timeEl(p.last_active_at))),
    p.name !== p.id ? h('div', { class: 'mono muted small' }, p.id) : null,
    p.description ? h('p', { class: 'project-desc' }, p.description) : null,
    p.root_paths.length ? h('ul', { class: 'paths' },
      p.root_paths.map((r) => h('li', { class: 'mono' }, r))) : null,
    h('div', { class: 'counts' },
      counts.length ? counts : h('span', { class: 'muted small' }, 'no active memories'),
      h('span', { class: 'count-total muted small' }, plural(countOf(p), 'memory', 'memories'))));
}

async function newProject(rerender) {
  const body = await openDialog((close) => {
    const id = h('input', { name: 'id', required: true, pattern: '[a-z0-9]([a-z0-9\\-]{0,62}[a-z0-9])?',
      placeholder: 'acme-api', autofocus: true });
    const name = h('input', { name: 'name', placeholder: 'Acme API' });
    const description = h('textarea', { name: 'description', rows: 2 });
    const roots = h('textarea', { name: 'root_paths', rows: 2, placeholder: '/src/acme-api' });
    return h('form', { class: 'dialog-body', on: { submit: (event) => {
      event.preventDefault();
      close({
        id: id.value.trim(), name: name.value.trim() || null,
        description: description.value.trim() || null,
        root_paths: roots.value.split('\n').map((s) => s.trim()).filter(Boolean),
      });
    } } },
    h('h2', {}, 'New project'),
    field('Id (lowercase, digits, dashes)', id), field('Name', name),
    field('Description', description), field('Root paths (one per line)', roots),
    h('div', { class: 'dialog-actions' }, button('Cancel', () => close(null)),
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create project')));
  });
  if (!body) return;
  const created = await act(null, () => api.createProject(body), 'Project created');
  if (created) location.hash = link('p', created.id);
  else rerender();
}

export function field(label, control, hint) {
  return h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), control,
    hint ? h('span', { class: 'field-hint' }, hint) : null);
}
