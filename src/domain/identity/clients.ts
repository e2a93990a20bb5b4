/**
 * OAuth2 client credentials of an application (RFC 6749 §4.4): a client id and a secret shown
 * once and stored as SHA-256. The client exchanges them at /oauth/token for a short-lived JWT
 * access token, which the bearer resolver registered here turns back into an application
 * principal holding the token's scopes — as long as the client is neither revoked nor expired.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { and, desc, eq } from 'drizzle-orm'
import { newId } from '../../lib/ids'
import { TtlCache } from '../../lib/ttl-cache'
import { applications, namespaces, oauthClients } from '../../store/schema'
import { type Deps, now } from '../deps'
import { errors } from '../errors'
import { checkExpiry, grantScopes } from './api-keys'
import { registerBearerResolver } from './authenticate'
import type { ApplicationPrincipal } from './principal'
import { isScope, type Scope } from './scopes'
import { signAccessToken, verifyAccessToken } from './signing-keys'

export type OAuthClient = typeof oauthClients.$inferSelect

/** Client secrets start with this, so secret scanners can recognise a leaked one. */
export const CLIENT_SECRET_PREFIX = 'og_secret_'
/** Revocation by another process (the CLI) bites within a second, as for API keys. */
const CLIENT_CACHE_TTL_MS = 1000

const digest = (secret: string) => createHash('sha256').update(secret).digest()
// Compared against when the client id is unknown, so both paths do the same work.
const NO_SUCH_CLIENT = digest('no such client')

export function clientView(client: OAuthClient) {
  return {
    client_id: client.id,
    application_id: client.applicationId,
    name: client.name,
    scopes: client.scopes,
    expires_at: client.expiresAt ? new Date(client.expiresAt).toISOString() : null,
    revoked_at: client.revokedAt ? new Date(client.revokedAt).toISOString() : null,
    created_at: new Date(client.createdAt).toISOString(),
  }
}

export interface NewClient {
  applicationId: string
  name?: string
  scopes?: string[]
  expiresAt?: number | null
  /** The creator's scopes: the most the client may get; every scope when absent (CLI). */
  grantable?: ReadonlySet<Scope>
}

/** A new client of an application; the secret is returned once and only its hash is stored. */
export async function createClient(deps: Deps, namespaceId: string, input: NewClient) {
  const scopes = grantScopes(input.scopes, input.grantable)
  const expiresAt = checkExpiry(input.expiresAt)
  return deps.store.tx(async (tx) => {
    const [app] = await tx
      .select({ id: applications.id })
      .from(applications)
      .where(and(eq(applications.id, input.applicationId), eq(applications.namespaceId, namespaceId)))
    if (!app) throw errors.applicationNotFound(`application "${input.applicationId}" does not exist`)
    const secret = CLIENT_SECRET_PREFIX + randomBytes(24).toString('base64url')
    const client: OAuthClient = {
      id: newId('cli'),
      namespaceId,
      applicationId: app.id,
      name: input.name ?? '',
      secretHash: digest(secret).toString('hex'),
      scopes,
      expiresAt,
      revokedAt: null,
      createdAt: now(deps),
    }
    await tx.insert(oauthClients).values(client)
    return { client, secret }
  })
}

/** A namespace's clients, newest first; only one application's when `applicationId` is given. */
export async function listClients(deps: Deps, namespaceId: string, applicationId?: string): Promise<OAuthClient[]> {
  return deps.store.read
    .select()
    .from(oauthClients)
    .where(and(eq(oauthClients.namespaceId, namespaceId), applicationId ? eq(oauthClients.applicationId, applicationId) : undefined))
    .orderBy(desc(oauthClients.id))
}

/** Revokes a client: no new tokens, and the tokens it holds stop working (within a second elsewhere). */
export async function revokeClient(deps: Deps, namespaceId: string, clientId: string, applicationId?: string): Promise<OAuthClient> {
  const revoked = await deps.store.tx(async (tx) => {
    const where = and(
      eq(oauthClients.id, clientId),
      eq(oauthClients.namespaceId, namespaceId),
      applicationId ? eq(oauthClients.applicationId, applicationId) : undefined,
    )
    const [current] = await tx.select().from(oauthClients).where(where)
    if (!current) throw errors.clientNotFound(`client "${clientId}" does not exist`)
    if (current.revokedAt !== null) return current
    const rows = await tx.update(oauthClients).set({ revokedAt: now(deps) }).where(where).returning()
    return rows[0]!
  })
  // After the commit: a lookup that read the client before it cannot cache it after (generation).
  invalidateClientCache()
  return revoked
}

/** An RFC 6749 §5.2 error of the token endpoint. */
export class OAuthError extends Error {
  constructor(
    readonly error: 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'unauthorized_client' | 'unsupported_grant_type' | 'invalid_scope',
    readonly description: string,
  ) {
    super(description)
    this.name = 'OAuthError'
  }
}

type ClientState = { client: OAuthClient; nsSlug: string; nsActive: boolean }
const clientCache = new TtlCache<ClientState | null>(CLIENT_CACHE_TTL_MS)

/** Forgets cached client lookups (a client was revoked, an application deleted). */
export function invalidateClientCache(): void {
  clientCache.clear()
}

async function clientState(deps: Deps, clientId: string): Promise<ClientState | null> {
  const cached = clientCache.get(clientId)
  const readAt = clientCache.generation
  if (cached !== undefined) return cached
  const [row] = await deps.store.read
    .select({ client: oauthClients, nsSlug: namespaces.slug, nsStatus: namespaces.status })
    .from(oauthClients)
    .innerJoin(namespaces, eq(namespaces.id, oauthClients.namespaceId))
    .where(eq(oauthClients.id, clientId))
  const state = row ? { client: row.client, nsSlug: row.nsSlug, nsActive: row.nsStatus === 'active' } : null
  clientCache.set(clientId, state, readAt)
  return state
}

const usable = (state: ClientState, at: number) =>
  state.client.revokedAt === null && (state.client.expiresAt === null || state.client.expiresAt > at)

/** Grants RFC 6749 defines that omnigate's clients may not use (people sign in at /v1/auth/login). */
const OTHER_RFC6749_GRANTS = new Set(['authorization_code', 'password', 'refresh_token'])

export interface TokenRequest {
  grantType: string
  clientId: string
  clientSecret: string
  /** The `scope` parameter as sent; undefined = every scope of the client. */
  scope?: string
}

/** The client credentials grant: authenticates the client and signs an access token. */
export async function issueClientToken(deps: Deps, request: TokenRequest) {
  const at = now(deps)
  const state = await clientState(deps, request.clientId)
  const matches = timingSafeEqual(state ? Buffer.from(state.client.secretHash, 'hex') : NO_SUCH_CLIENT, digest(request.clientSecret))
  // One answer for an unknown id, a wrong secret, a revoked or an expired client.
  if (!state || !matches || !usable(state, at)) throw new OAuthError('invalid_client', 'client authentication failed')
  if (OTHER_RFC6749_GRANTS.has(request.grantType)) {
    throw new OAuthError('unauthorized_client', `this client may only use the client_credentials grant, not ${request.grantType}`)
  }
  if (request.grantType !== 'client_credentials') throw new OAuthError('unsupported_grant_type', 'the only grant type here is client_credentials')
  if (!state.nsActive) throw new OAuthError('invalid_grant', "the client's namespace is disabled")
  const held = state.client.scopes.filter(isScope)
  let scopes: Scope[] = held
  if (request.scope !== undefined && request.scope.trim() !== '') {
    const asked = [...new Set(request.scope.trim().split(/ +/))]
    const refused = asked.filter((s) => !(held as string[]).includes(s))
    if (refused.length > 0) throw new OAuthError('invalid_scope', `not granted to this client: ${refused.join(' ')}`)
    scopes = asked as Scope[]
  }
  const ttl = deps.limits.accessTokenTtlSeconds
  const scope = scopes.join(' ')
  const { token } = await signAccessToken(
    deps,
    { sub: state.client.applicationId, cid: state.client.id, client_id: state.client.id, ns: state.nsSlug, scope },
    ttl,
  )
  return { access_token: token, token_type: 'Bearer' as const, expires_in: ttl, scope }
}

/** Three base64url parts: cheap to rule out API keys before any signature work. */
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]+$/

/**
 * The principal for a client's access token, or null when the token is not one (no `cid`),
 * fails verification, or its client is revoked or expired or its namespace disabled.
 */
export async function authenticateClientToken(deps: Deps, token: string): Promise<ApplicationPrincipal | null> {
  if (!JWT_SHAPE.test(token)) return null
  const claims = await verifyAccessToken(deps, token)
  if (!claims || typeof claims.cid !== 'string' || typeof claims.scope !== 'string' || typeof claims.exp !== 'number') return null
  const state = await clientState(deps, claims.cid)
  if (!state || !usable(state, now(deps)) || !state.nsActive) return null
  if (claims.sub !== state.client.applicationId || claims.ns !== state.nsSlug) return null
  // The token holds at most what its client holds now.
  const scopes = claims.scope.split(' ').filter((s): s is Scope => isScope(s) && state.client.scopes.includes(s))
  const tokenExpiry = claims.exp * 1000
  return {
    kind: 'application',
    credential: 'client',
    credentialId: state.client.id,
    applicationId: state.client.applicationId,
    namespaceId: state.client.namespaceId,
    namespaceSlug: state.nsSlug,
    scopes: new Set(scopes),
    expiresAt: state.client.expiresAt === null ? tokenExpiry : Math.min(tokenExpiry, state.client.expiresAt),
  }
}

// Client tokens are accepted wherever a bearer credential is, from the moment this module loads.
registerBearerResolver(authenticateClientToken)
