// session.js: who is signed in, and what they may do in a project.
import { get, paths } from '../api.js';

/** session is the signed-in user ({username, clusterAdmin}); username '' when signed out. */
export const session = { username: '', clusterAdmin: false };
export const sessionEvents = new EventTarget();

export async function loadSession() {
  const who = await get(paths.whoami());
  session.username = who.username || '';
  session.clusterAdmin = !!who.clusterAdmin;
  sessionEvents.dispatchEvent(new Event('change'));
  return session;
}

export function clearSession() {
  session.username = '';
  session.clusterAdmin = false;
  sessionEvents.dispatchEvent(new Event('change'));
}

/**
 * projectAccess reads a project and says what the user may do in it:
 * role (admin | edit | view | '' for cluster admins who are not members),
 * canEdit (deploy, scale, delete workloads), canAdmin (members, delete the
 * project). Cluster admins may do everything.
 */
export async function projectAccess(ns) {
  const project = await get(paths.project(ns));
  const role = project.status?.role || '';
  const ca = session.clusterAdmin;
  return {
    project,
    role,
    canEdit: ca || role === 'admin' || role === 'edit',
    canAdmin: ca || role === 'admin',
  };
}
