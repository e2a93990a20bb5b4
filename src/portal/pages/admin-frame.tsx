/**
 * The instance admin's pages share this: the guard (a signed-in instance admin, anyone else a
 * 403 page), the page frame with the "Admin" navigation entry, and the admin sub-navigation.
 */
import type { Context, MiddlewareHandler } from 'hono'
import type { Child } from 'hono/jsx'
import type { Deps } from '../../domain/deps'
import { errors } from '../../domain/errors'
import { switcherNamespaces, toLogin } from '../access'
import type { PortalEnv } from '../env'
import { render } from '../layout'

export const ADMIN_PAGES = [
  { path: '/namespaces', label: 'Namespaces' },
  { path: '/users', label: 'Users' },
  { path: '/plans', label: 'Plans' },
  { path: '/jobs', label: 'Jobs' },
  { path: '/system', label: 'System' },
] as const
type AdminPath = (typeof ADMIN_PAGES)[number]['path']

/**
 * Only an instance admin gets past (the API's `requireInstanceAdmin`); the switcher lists every namespace.
 * @example app.use('*', instanceAdminOnly(deps))
 */
export function instanceAdminOnly(deps: Deps): MiddlewareHandler<PortalEnv> {
  if (!deps?.store) throw new Error('instanceAdminOnly needs the gateway deps')
  return async function instanceAdminOnlyMiddleware(c, next) {
    const user = c.get('user')
    if (!user) return toLogin(c)
    if (!user.instanceAdmin) throw errors.instanceAdminRequired('these pages are for instance admins only')
    c.set('namespaces', await switcherNamespaces(deps, user))
    await next()
  }
}

/** Renders an admin page: the frame, the sub-navigation with `current` marked, then the content. */
export function renderAdmin(c: Context<PortalEnv>, opts: { title: string; current: AdminPath; status?: number }, content: Child): Promise<Response> {
  return render(
    c,
    { title: `${opts.title} · Admin`, section: 'admin', status: (opts.status ?? 200) as 200 },
    <>
      <nav class="subnav" aria-label="Admin pages">
        <ul>
          {ADMIN_PAGES.map((p) => (
            <li>
              <a href={`/portal/admin${p.path}`} aria-current={p.path === opts.current ? 'page' : undefined}>
                {p.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      {content}
    </>,
  )
}

/** `0` means unlimited in quotas. */
export const limitText = (n: number) => (n === 0 ? 'unlimited' : n.toLocaleString('en'))
