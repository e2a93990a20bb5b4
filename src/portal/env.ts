/** What the portal's middleware puts on the Hono context (read it with `c.get(…)`). */
import type { NamespaceAccess, UserPrincipal } from '../domain/identity/principal'

/** A namespace as the switcher lists it: the user's role there (null for an instance admin who is no member). */
export interface PortalNamespace {
  id: string
  slug: string
  name: string
  status: string
  role: string | null
}

export type PortalEnv = {
  Variables: {
    /** The signed-in user, or null (set on every request by `portalSession`). */
    user: UserPrincipal | null
    /** The CSRF token every form of this response must carry (hidden `_csrf` field). */
    csrfToken: string
    /** On /portal/ns/:ns/… only: the namespace and the scopes the user holds there. */
    access: NamespaceAccess
    /** On /portal/ns/:ns/… only: what the namespace switcher lists. */
    namespaces: PortalNamespace[]
  }
}
