// Who is using the inspector, and what their role lets them do. The server decides
// anyway; this only hides buttons that would be refused.
import { api } from './api.js';

const RANK = { reader: 1, writer: 2, curator: 3, admin: 4 };

export const session = { who: null };

export async function loadIdentity() {
  session.who = await api.whoami();
  return session.who;
}

export function roleIn(project) {
  const grants = (session.who && session.who.grants) || {};
  return grants[project] || grants['*'] || null;
}

export function can(project, role) {
  const have = roleIn(project);
  return Boolean(have) && RANK[have] >= RANK[role];
}

/** Writers change their own memories; curators change anyone's. */
export function canChange(project, memory) {
  if (can(project, 'curator')) return true;
  return can(project, 'writer') && memory.provenance.principal === session.who.principal;
}
