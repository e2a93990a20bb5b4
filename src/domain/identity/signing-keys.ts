/**
 * Token signing keys: one active key signs; retiring keys still verify until their retire time,
 * so tokens issued just before a rotation stay valid (`omnigate keys rotate`). Private keys are
 * sealed with the master key; the public halves are published at /.well-known/jwks.json.
 */
import { eq, inArray } from 'drizzle-orm'
import { exportJWK, generateKeyPair, importJWK, type JWK, type JWTPayload, jwtVerify, SignJWT } from 'jose'
import { newId } from '../../lib/ids'
import { TtlCache } from '../../lib/ttl-cache'
import { signingKeys } from '../../store/schema'
import { type Deps, now } from '../deps'

export type TokenAlg = 'ES256' | 'EdDSA'
/** Tokens are for this API; a token minted for something else is refused. */
export const TOKEN_AUDIENCE = 'omnigate'
/** A rotated-out key keeps verifying this long: longer than any access token lives. */
export const ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000
/** Keys are re-read this often, so a rotation by another process is seen quickly. */
const KEY_CACHE_TTL_MS = 5000

type KeyRow = typeof signingKeys.$inferSelect
/** Per store: two gateways in one process (tests, the CLI beside a server) never share keys. */
const caches = new WeakMap<object, TtlCache<KeyRow[]>>()
function cacheOf(deps: Deps): TtlCache<KeyRow[]> {
  let cache = caches.get(deps.store)
  if (!cache) caches.set(deps.store, (cache = new TtlCache<KeyRow[]>(KEY_CACHE_TTL_MS)))
  return cache
}

async function liveKeys(deps: Deps): Promise<KeyRow[]> {
  const cache = cacheOf(deps)
  const hit = cache.get('keys')
  if (hit) return hit
  const at = now(deps)
  const rows = (await deps.store.read.select().from(signingKeys)).filter((k) => k.status === 'active' || (k.retireAt ?? 0) > at)
  cache.set('keys', rows)
  return rows
}

async function newKeyRow(deps: Deps, alg: TokenAlg, at: number): Promise<KeyRow> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) })
  const id = newId('kid')
  const publicJwk = { ...(await exportJWK(publicKey)), kid: id, alg, use: 'sig' }
  return { id, alg, publicJwk, privateEnc: deps.box.sealJson(await exportJWK(privateKey), id), status: 'active', retireAt: null, createdAt: at }
}

/** Creates the first signing key when there is none (start-up). */
export async function ensureSigningKey(deps: Deps, alg: TokenAlg = 'ES256'): Promise<void> {
  const at = now(deps)
  await deps.store.tx(async (tx) => {
    const active = await tx.select({ id: signingKeys.id }).from(signingKeys).where(eq(signingKeys.status, 'active'))
    if (active.length === 0) await tx.insert(signingKeys).values(await newKeyRow(deps, alg, at))
  })
  cacheOf(deps).clear()
}

/**
 * Whether the master key opens what it sealed: the active signing key's private half (every
 * store has one after start-up). False for a master key other than the one the secrets were
 * sealed with.
 */
export async function masterKeyOpensSecrets(deps: Deps): Promise<boolean> {
  const [key] = await deps.store.read.select().from(signingKeys).where(eq(signingKeys.status, 'active')).limit(1)
  if (!key) return true
  try {
    deps.box.open(key.privateEnc, key.id)
    return true
  } catch {
    return false
  }
}

/** A new active key; the previous ones verify for `overlapMs` more, then are deleted. */
export async function rotateSigningKeys(deps: Deps, alg: TokenAlg = 'ES256', overlapMs = ROTATION_OVERLAP_MS) {
  const at = now(deps)
  const row = await newKeyRow(deps, alg, at)
  await deps.store.tx(async (tx) => {
    const old = await tx.select().from(signingKeys)
    const expired = old.filter((k) => k.status === 'retiring' && (k.retireAt ?? 0) <= at).map((k) => k.id)
    if (expired.length) await tx.delete(signingKeys).where(inArray(signingKeys.id, expired))
    await tx.update(signingKeys).set({ status: 'retiring', retireAt: at + overlapMs }).where(eq(signingKeys.status, 'active'))
    await tx.insert(signingKeys).values(row)
  })
  cacheOf(deps).clear()
  return { kid: row.id, alg }
}

/** The public keys that verify tokens now (JWKS). */
export async function jwks(deps: Deps): Promise<{ keys: JWK[] }> {
  return { keys: (await liveKeys(deps)).map((k) => k.publicJwk as JWK) }
}

/** Signs claims with the active key: `iss` = public URL, `aud` = omnigate, `iat`, `exp`, `jti`. */
export async function signAccessToken(deps: Deps, claims: JWTPayload & { sub: string }, ttlSeconds: number) {
  const key = (await liveKeys(deps)).find((k) => k.status === 'active')
  if (!key) throw new Error('no active signing key (ensureSigningKey runs at start-up)')
  const privateKey = await importJWK(deps.box.openJson<JWK>(key.privateEnc, key.id), key.alg)
  const jti = crypto.randomUUID()
  const token = await new SignJWT({ ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.id, typ: 'at+jwt' })
    .setIssuer(deps.publicUrl)
    .setAudience(TOKEN_AUDIENCE)
    .setIssuedAt(Math.floor(now(deps) / 1000))
    .setExpirationTime(Math.floor(now(deps) / 1000) + ttlSeconds)
    .setJti(jti)
    .sign(privateKey)
  return { token, jti, expiresIn: ttlSeconds }
}

/** Verifies a token's signature (by `kid`), issuer, audience and expiry; null when any fails. */
export async function verifyAccessToken(deps: Deps, token: string): Promise<JWTPayload | null> {
  try {
    const keys = await liveKeys(deps)
    const { payload } = await jwtVerify(
      token,
      async (header) => {
        const key = keys.find((k) => k.id === header.kid && k.alg === header.alg)
        if (!key) throw new Error('unknown kid')
        return importJWK(key.publicJwk as JWK, key.alg)
      },
      { issuer: deps.publicUrl, audience: TOKEN_AUDIENCE, currentDate: new Date(now(deps)) },
    )
    return payload
  } catch {
    return null
  }
}
