/**
 * Instance admin (`/portal/admin/…`): namespaces (admin-namespaces.tsx), and users, plans, jobs
 * and system health (admin-system.tsx). Only instance admins get in; each page uses the same
 * domain functions as its API route (`/v1/namespaces`, `/v1/provisioning`, `/v1/users`,
 * `/v1/plans`, `/v1/jobs`, `/v1/system`).
 */
import { Hono } from 'hono'
import type { Deps } from '../../domain/deps'
import type { PortalEnv } from '../env'
import { instanceAdminOnly } from './admin-frame'
import { adminNamespacePages } from './admin-namespaces'
import { adminSystemPages } from './admin-system'

export function adminPages(deps: Deps) {
  const app = new Hono<PortalEnv>()
  app.use('*', instanceAdminOnly(deps))
  app.get('/', (c) => c.redirect('/portal/admin/namespaces', 303))
  app.route('/namespaces', adminNamespacePages(deps))
  app.route('/', adminSystemPages(deps))
  return app
}
