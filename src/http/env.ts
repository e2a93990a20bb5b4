import type { Principal } from '../domain/identity/api-keys'

/** What middleware puts on the Hono context. */
export type AppEnv = {
  Variables: {
    requestId: string
    principal: Principal
    namespaceId: string
  }
}
