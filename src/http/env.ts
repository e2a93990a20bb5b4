import type { NamespaceAccess, Principal } from '../domain/identity/principal'

/** What middleware puts on the Hono context. */
export type AppEnv = {
  Variables: {
    requestId: string
    principal: Principal
    /** Set by the namespace guard on /v1/namespaces/:ns/… routes. */
    access: NamespaceAccess
    namespaceId: string
  }
}
