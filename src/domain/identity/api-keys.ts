/**
 * API keys: `og_live_<32 base64url chars>` (192 random bits). Stored as a lookup prefix and a
 * SHA-256 hash; the secret is shown once. Verification is cached for at most a second, so a key
 * revoked by another process (the CLI) stops working within a second.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { and, desc, eq, isNull } from 'drizzle-orm'
import { API_KEY_MIN_SECRET_CHARS, API_KEY_PREFIX, apiKeyLookup, isWellFormedApiKey } from '../../lib/formats'
import { newId } from '../../lib/ids'
import { TtlCache } from '../../lib/ttl-cache'
import { apiKeys, applications, namespaces } from '../../store/schema'
import { run } from '../../store/raw'
import type { Db, Store } from '../../store/store'
import { type Deps, now } from '../deps'
import { errors, invalidField } from '../errors'
import type { ApplicationPrincipal } from './principal'
import { ALL_SCOPES, isScope, type Scope } from './scopes'

/** Revocation from another process must bite within a second (issue #3). */
const AUTH_CACHE_TTL_MS = 1000

export type ApiKey = typeof apiKeys.$inferSelect


const hashKey = (key: string) => createHash('sha256').update(key).digest()

export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(24).toString('base64url')
}

export function apiKeyView(key: ApiKey) {
  return {
    id: key.id,
    application_id: key.applicationId,
    name: key.name,
    prefix: `${API_KEY_PREFIX}${key.lookup}…`,
    scopes: key.scopes,
    expires_at: key.expiresAt ? new Date(key.expiresAt).toISOString() : null,
    revoked_at: key.revokedAt ? new Date(key.revokedAt).toISOString() : null,
    last_used_at: key.lastUsedAt ? new Date(key.lastUsedAt).toISOString() : null,
    created_at: new Date(key.createdAt).toISOString(),
  }
}

function checkScopes(scopes: string[]): Scope[] {
  scopes.forEach((s, i) => {
    if (!isScope(s)) throw invalidField(`scopes.${i}`, `unknown scope "${s}" (known: ${ALL_SCOPES.join(', ')})`)
  })
  return scopes as Scope[]
}

/**
 * The scopes a new credential gets: those asked for (all the creator holds when none are), each
 * known (422) and held by the creator (403 naming it), so no credential can mint a stronger one.
 */
/** The last instant RFC 3339 can write (9999-12-31T23:59:59.999Z): a credential's latest expiry. */
export const LATEST_EXPIRY_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

/** A credential's expiry as given, or a 422 naming `expires_at` for one no date can show. */
export function checkExpiry(expiresAt: number | null | undefined): number | null {
  if (expiresAt === undefined || expiresAt === null) return null
  if (!Number.isFinite(expiresAt) || expiresAt > LATEST_EXPIRY_MS) throw invalidField('expires_at', 'must be before the year 10000')
  return expiresAt
}

export function grantScopes(requested: string[] | undefined, held: ReadonlySet<Scope> = new Set(ALL_SCOPES)): Scope[] {
  if (requested === undefined) return ALL_SCOPES.filter((s) => held.has(s))
  const scopes = checkScopes(requested)
  scopes.forEach((scope, i) => {
    if (!held.has(scope)) {
      throw errors.scopeNotHeld(`scopes.${i}: you do not hold the scope "${scope}", so you cannot grant it`, [
        { field: `scopes.${i}`, message: `not held by the caller: "${scope}"` },
      ])
    }
  })
  return [...new Set(scopes)]
}

export interface NewApiKey {
  applicationId: string
  name?: string
  scopes?: string[]
  expiresAt?: number | null
  /** A key chosen by the operator (config reconcile); generated when absent. */
  key?: string
  /** The creator's scopes: the most the key may get (the API); every scope when absent (CLI, config). */
  grantable?: ReadonlySet<Scope>
}

/** Inserts an API key inside an open transaction; returns the row and the secret (shown once). */
export async function insertApiKey(tx: Db, namespaceId: string, input: NewApiKey, at: number) {
  const app = await tx
    .select({ id: applications.id })
    .from(applications)
    .where(and(eq(applications.id, input.applicationId), eq(applications.namespaceId, namespaceId)))
  if (!app[0]) throw errors.applicationNotFound(`application "${input.applicationId}" does not exist`)
  const secret = input.key ?? generateApiKey()
  if (!isWellFormedApiKey(secret)) {
    throw invalidField('key', `must start with ${API_KEY_PREFIX} followed by ${API_KEY_MIN_SECRET_CHARS} to 120 characters`)
  }
  const row: ApiKey = {
    id: newId('key'),
    namespaceId,
    applicationId: input.applicationId,
    name: input.name ?? '',
    lookup: apiKeyLookup(secret),
    hash: hashKey(secret).toString('hex'),
    scopes: grantScopes(input.scopes, input.grantable),
    expiresAt: checkExpiry(input.expiresAt),
    revokedAt: null,
    lastUsedAt: null,
    createdAt: at,
  }
  await tx.insert(apiKeys).values(row)
  return { key: row, secret }
}

export async function createApiKey(deps: Deps, namespaceId: string, input: NewApiKey) {
  return deps.store.tx((tx) => insertApiKey(tx, namespaceId, input, now(deps)))
}

/** A namespace's keys, newest first; only one application's when `applicationId` is given. */
export async function listApiKeys(deps: Deps, namespaceId: string, applicationId?: string): Promise<ApiKey[]> {
  return deps.store.read
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.namespaceId, namespaceId), applicationId ? eq(apiKeys.applicationId, applicationId) : undefined))
    .orderBy(desc(apiKeys.id))
}

/**
 * Revokes a key (of one application when `applicationId` is given); it stops working at once in
 * this process and within a second elsewhere. Revoking a revoked key keeps its first revocation time.
 */
export async function revokeApiKey(deps: Deps, namespaceId: string, keyId: string, applicationId?: string): Promise<ApiKey> {
  const revoked = await deps.store.tx(async (tx) => {
    const where = and(
      eq(apiKeys.id, keyId),
      eq(apiKeys.namespaceId, namespaceId),
      applicationId ? eq(apiKeys.applicationId, applicationId) : undefined,
    )
    const [current] = await tx.select().from(apiKeys).where(where)
    if (!current) throw errors.apiKeyNotFound(`API key "${keyId}" does not exist`)
    if (current.revokedAt !== null) return current
    const rows = await tx.update(apiKeys).set({ revokedAt: now(deps) }).where(where).returning()
    return rows[0]!
  })
  // After the commit: a check that read the key before it cannot cache it after (generation).
  authCache.clear()
  return revoked
}

/** Forgets every cached key verification (an application was deleted). */
export function invalidateApiKeyCache(): void {
  authCache.clear()
}

/** The stored key with exactly this secret, if any (config reconcile). */
export async function findApiKeyBySecret(tx: Db, secret: string): Promise<ApiKey | undefined> {
  const digest = hashKey(secret)
  const rows = await tx.select().from(apiKeys).where(eq(apiKeys.lookup, apiKeyLookup(secret)))
  return rows.find((r) => timingSafeEqual(Buffer.from(r.hash, 'hex'), digest))
}

/** Replaces a key's scopes (config reconcile: the file is the source of truth for its keys). */
export async function setApiKeyScopes(tx: Db, key: ApiKey, scopes: string[]): Promise<void> {
  await tx.update(apiKeys).set({ scopes: checkScopes(scopes) }).where(eq(apiKeys.id, key.id))
  authCache.clear()
}

const authCache = new TtlCache<ApplicationPrincipal | null>(AUTH_CACHE_TTL_MS)

/**
 * When each key was last used: noted in memory on every authentication and written at most once
 * a minute per gateway (and at shutdown), so authenticating a request writes nothing.
 */
const USAGE_FLUSH_MS = 60_000
const usage = new WeakMap<Store, { pending: Map<string, number>; timer: ReturnType<typeof setTimeout> | null }>()

function noteKeyUsed(deps: Pick<Deps, 'store'>, keyId: string, at: number): void {
  let buffer = usage.get(deps.store)
  if (!buffer) usage.set(deps.store, (buffer = { pending: new Map(), timer: null }))
  buffer.pending.set(keyId, at)
  if (buffer.timer === null) {
    // A store closed meanwhile refuses the write: that minute of "last used" is lost, nothing else.
    buffer.timer = setTimeout(() => void flushKeyUsage(deps).catch(() => {}), USAGE_FLUSH_MS)
    buffer.timer.unref()
  }
}

const RECORD_USE = 'UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)'

/** Writes the noted uses now (the minute's flush, and at shutdown). */
export async function flushKeyUsage(deps: Pick<Deps, 'store'>): Promise<void> {
  const buffer = usage.get(deps.store)
  if (!buffer) return
  if (buffer.timer !== null) clearTimeout(buffer.timer)
  buffer.timer = null
  if (buffer.pending.size === 0) return
  const uses = [...buffer.pending]
  buffer.pending.clear()
  await deps.store.write(async (tx) => {
    for (const [id, at] of uses) await run(tx, RECORD_USE, [at, id, at])
  })
}

/** The principal for a bearer API key, or null when it is unknown, revoked or expired. */
export async function authenticateApiKey(deps: Deps, secret: string): Promise<ApplicationPrincipal | null> {
  if (!isWellFormedApiKey(secret)) return null
  const digest = hashKey(secret)
  // The cache is keyed by the hash, never by the secret itself.
  const cacheKey = digest.toString('base64')
  const cached = authCache.get(cacheKey)
  // A cached key still expires on time; only revocation may lag by the cache's TTL.
  if (cached !== undefined) {
    if (!cached) return null
    const at = now(deps)
    if (cached.expiresAt !== null && cached.expiresAt <= at) return null
    noteKeyUsed(deps, cached.credentialId, at)
    return cached
  }
  const lookup = apiKeyLookup(secret)
  const readAt = authCache.generation
  const rows = await deps.store.read
    .select({ key: apiKeys, slug: namespaces.slug, nsStatus: namespaces.status })
    .from(apiKeys)
    .innerJoin(namespaces, eq(namespaces.id, apiKeys.namespaceId))
    .where(and(eq(apiKeys.lookup, lookup), isNull(apiKeys.revokedAt)))
  const at = now(deps)
  const match = rows.find(
    (r) =>
      timingSafeEqual(Buffer.from(r.key.hash, 'hex'), digest) &&
      (r.key.expiresAt === null || r.key.expiresAt > at) &&
      r.nsStatus === 'active',
  )
  const principal: ApplicationPrincipal | null = match
    ? {
        kind: 'application',
        credential: 'api_key',
        credentialId: match.key.id,
        applicationId: match.key.applicationId,
        namespaceId: match.key.namespaceId,
        namespaceSlug: match.slug,
        scopes: new Set(match.key.scopes as Scope[]),
        expiresAt: match.key.expiresAt,
      }
    : null
  authCache.set(cacheKey, principal, readAt)
  if (principal) noteKeyUsed(deps, principal.credentialId, at)
  return principal
}
