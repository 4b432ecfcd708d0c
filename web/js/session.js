// Who is using the inspector, what their role lets them do, and what the server knows
// (kinds, statuses, roles, audit actions, thresholds) read once from GET /meta, so none
// of it is copied here. The server decides anyway; this only hides refused buttons.
import { api } from './api.js';

export const session = { who: null, meta: null };

export async function loadIdentity() {
  const [who, meta] = await Promise.all([api.whoami(), session.meta || api.meta()]);
  session.who = who;
  session.meta = meta;
  return session.who;
}

/** The server's vocabulary; loaded before any view renders. */
export function meta() {
  return session.meta;
}

export function roleIn(project) {
  const grants = (session.who && session.who.grants) || {};
  return grants[project] || grants['*'] || null;
}

/** Roles come from /meta lowest first; each can do what the ones before it can. */
function rank(role) {
  return session.meta ? session.meta.roles.indexOf(role) : -1;
}

export function can(project, role) {
  const have = roleIn(project);
  return Boolean(have) && rank(have) >= rank(role) && rank(role) >= 0;
}

/** Writers change their own memories; curators change anyone's. */
export function canChange(project, memory) {
  if (can(project, 'curator')) return true;
  return can(project, 'writer') && memory.provenance.principal === session.who.principal;
}
