/**
 * POST /oauth/token (RFC 6749 §4.4) and GET /.well-known/jwks.json (issue #6): tokens verified
 * by node:crypto against the published JWK — outside the project's own code path — every
 * RFC 6749 error, and tokens that are expired, tampered, for another audience, or of a revoked
 * client refused by the API.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createPublicKey, type JsonWebKeyInput, verify } from 'node:crypto'
import { eq } from 'drizzle-orm'
import { generateKeyPair, importJWK, type JWK, SignJWT } from 'jose'
import { rotateSigningKeys } from '../../src/domain/identity/signing-keys'
import { namespaces, oauthClients, signingKeys } from '../../src/store/schema'
import { startTestGateway, type TestGateway } from '../helpers/gateway'

type TokenBody = { access_token: string; token_type: string; expires_in: number; scope: string }
type Client = { client_id: string; client_secret: string; application_id: string }

let gw: TestGateway
let acme: Awaited<ReturnType<TestGateway['tenant']>>
let client: Client

beforeAll(async () => {
  gw = await startTestGateway()
  acme = await gw.tenant('acme')
  await gw.tenant('umbrella')
  client = await newClient(['messages:read', 'channels:read', 'apps:read'])
})
afterAll(() => gw.close())

async function newClient(scopes: string[], extra: Record<string, unknown> = {}, ns = 'acme', key = acme.key): Promise<Client> {
  const res = await gw.call('POST', `/v1/namespaces/${ns}/apps/test-app/clients`, key, { scopes, ...extra })
  expect(res.status).toBe(201)
  return (await res.json()) as Client
}

const basic = (id: string, secret: string) => `Basic ${btoa(`${id}:${secret}`)}`
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

function tokenRequest(params: Record<string, string> | string, headers: Record<string, string> = {}) {
  const body = typeof params === 'string' ? params : new URLSearchParams(params).toString()
  return gw.app.request('/oauth/token', { method: 'POST', headers: { ...FORM, ...headers }, body })
}

async function token(c: Client = client, scope?: string): Promise<TokenBody> {
  const res = await tokenRequest({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) }, { authorization: basic(c.client_id, c.client_secret) })
  expect(res.status).toBe(200)
  return (await res.json()) as TokenBody
}

const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, any>

/** The independent verifier: node:crypto and the JWK fetched from the JWKS by kid. */
async function independentlyVerified(jwt: string): Promise<Record<string, any> | null> {
  const [headerPart, payloadPart, signaturePart] = jwt.split('.') as [string, string, string]
  const header = decode(headerPart)
  const res = await gw.app.request('/.well-known/jwks.json')
  const jwk = ((await res.json()) as { keys: (JsonWebKeyInput['key'] & { kid: string })[] }).keys.find((k) => k.kid === header.kid)
  if (!jwk) return null
  const key = createPublicKey({ key: jwk, format: 'jwk' })
  const input = Buffer.from(`${headerPart}.${payloadPart}`)
  const signature = Buffer.from(signaturePart, 'base64url')
  const ok =
    header.alg === 'ES256'
      ? verify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, signature)
      : header.alg === 'EdDSA'
        ? verify(null, input, key, signature)
        : false
  return ok ? decode(payloadPart) : null
}

const api = (jwt: string, path = '/v1/namespaces/acme/channels', method = 'GET', body?: unknown) => gw.call(method, path, jwt, body)

async function expectOAuthError(res: Response, status: number, error: string) {
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toStartWith('application/json')
  expect(res.headers.get('cache-control')).toBe('no-store')
  const body = (await res.json()) as Record<string, string>
  expect(Object.keys(body).sort()).toEqual(['error', 'error_description'])
  expect(body.error).toBe(error)
  expect(body.error_description).toBeString()
  return body
}

describe('issuing tokens', () => {
  test('with HTTP Basic: a Bearer token, no-store, the client\'s scopes, verified independently against the JWKS', async () => {
    const res = await tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic(client.client_id, client.client_secret) })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = (await res.json()) as TokenBody
    expect(body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: gw.config.security.access_token_ttl_seconds, scope: 'messages:read channels:read apps:read' })

    const header = decode(body.access_token.split('.')[0]!)
    expect(header).toMatchObject({ alg: 'ES256', kid: expect.stringMatching(/^kid_/) })
    const claims = await independentlyVerified(body.access_token)
    expect(claims).not.toBeNull()
    const nowSeconds = Math.floor(Date.now() / 1000)
    expect(claims).toEqual({
      iss: gw.deps.publicUrl,
      aud: 'omnigate',
      sub: client.application_id,
      cid: client.client_id,
      client_id: client.client_id,
      ns: 'acme',
      scope: 'messages:read channels:read apps:read',
      iat: expect.any(Number),
      exp: expect.any(Number),
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
    })
    expect(Math.abs(claims!.iat - nowSeconds)).toBeLessThanOrEqual(5)
    expect(claims!.exp - claims!.iat).toBe(gw.config.security.access_token_ttl_seconds)
    // A signature changed by one bit fails the same verifier.
    const [h, p, s] = body.access_token.split('.') as [string, string, string]
    const flipped = Buffer.from(s, 'base64url')
    flipped[0]! ^= 1
    expect(await independentlyVerified(`${h}.${p}.${flipped.toString('base64url')}`)).toBeNull()
  })

  test('with client_id and client_secret in the form body', async () => {
    const res = await tokenRequest({ grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret })
    expect(res.status).toBe(200)
    const body = (await res.json()) as TokenBody
    expect((await independentlyVerified(body.access_token))?.cid).toBe(client.client_id)
  })

  test('Basic credentials are form-urlencoded before base64 (RFC 6749 §2.3.1)', async () => {
    const encode = (text: string) => Array.from(text, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`).join('')
    const res = await tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic(encode(client.client_id), encode(client.client_secret)) })
    expect(res.status).toBe(200)
  })

  test('every token has its own jti', async () => {
    const ids = new Set<string>()
    for (let i = 0; i < 5; i++) ids.add(decode((await token()).access_token.split('.')[1]!).jti)
    expect(ids.size).toBe(5)
  })

  test('the JWKS: public keys only, with kid, cacheable for five minutes', async () => {
    const res = await gw.app.request('/.well-known/jwks.json')
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('public, max-age=300')
    const { keys } = (await res.json()) as { keys: Record<string, string>[] }
    expect(keys.length).toBeGreaterThanOrEqual(1)
    for (const key of keys) {
      expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: expect.stringMatching(/^kid_/) })
      expect(key.d).toBeUndefined()
    }
  })

  test('the endpoints are documented, without a bearer requirement', async () => {
    const doc = (await (await gw.app.request('/openapi.json')).json()) as { paths: Record<string, Record<string, { security?: unknown[] }>> }
    expect(doc.paths['/oauth/token']?.post?.security).toEqual([])
    expect(doc.paths['/.well-known/jwks.json']?.get?.security).toEqual([])
  })
})

describe('RFC 6749 §5.2 errors', () => {
  const ok = () => ({ authorization: basic(client.client_id, client.client_secret) })

  test('invalid_request: missing grant_type, not a form, a repeated parameter, two authentication methods', async () => {
    await expectOAuthError(await tokenRequest({}, ok()), 400, 'invalid_request')
    await expectOAuthError(await tokenRequest({ scope: 'apps:read' }, ok()), 400, 'invalid_request')
    const json = await gw.app.request('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...ok() },
      body: JSON.stringify({ grant_type: 'client_credentials' }),
    })
    await expectOAuthError(json, 400, 'invalid_request')
    await expectOAuthError(await tokenRequest('grant_type=client_credentials&grant_type=client_credentials', ok()), 400, 'invalid_request')
    const both = await tokenRequest({ grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret }, ok())
    expect((await expectOAuthError(both, 400, 'invalid_request')).error_description).toContain('not both')
  })

  test('invalid_client: 401 with WWW-Authenticate: Basic for a wrong secret, an unknown client, no or foreign authentication', async () => {
    const cases: [Record<string, string>, Record<string, string>][] = [
      [{ grant_type: 'client_credentials' }, { authorization: basic(client.client_id, `${client.client_secret}x`) }],
      [{ grant_type: 'client_credentials' }, { authorization: basic('cli_unknown', client.client_secret) }],
      [{ grant_type: 'client_credentials' }, { authorization: `Bearer ${acme.key}` }],
      [{ grant_type: 'client_credentials' }, { authorization: 'Basic not base64!' }],
      [{ grant_type: 'client_credentials' }, { authorization: `Basic ${btoa('no-colon')}` }],
      [{ grant_type: 'client_credentials' }, {}],
      [{ grant_type: 'client_credentials', client_id: client.client_id }, {}],
      [{ grant_type: 'client_credentials', client_id: client.client_id, client_secret: 'og_secret_wrong' }, {}],
    ]
    for (const [params, headers] of cases) {
      const res = await tokenRequest(params, headers)
      expect(res.headers.get('www-authenticate')).toStartWith('Basic ')
      const body = await expectOAuthError(res, 401, 'invalid_client')
      // The answer never tells which part was wrong, and never echoes a secret.
      expect(JSON.stringify(body)).not.toContain(client.client_secret)
    }
  })

  test('invalid_client for a revoked or an expired client', async () => {
    const revoked = await newClient(['apps:read'])
    await gw.deps.store.tx((tx) => tx.update(oauthClients).set({ revokedAt: Date.now() }).where(eq(oauthClients.id, revoked.client_id)))
    await Bun.sleep(1100) // past the 1 s client cache: as if revoked by another process
    await expectOAuthError(await tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic(revoked.client_id, revoked.client_secret) }), 401, 'invalid_client')

    const expiring = await newClient(['apps:read'], { expires_at: new Date(Date.now() + 60_000).toISOString() })
    expect((await token(expiring)).scope).toBe('apps:read')
    gw.deps.now = () => Date.now() + 120_000
    try {
      await expectOAuthError(await tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic(expiring.client_id, expiring.client_secret) }), 401, 'invalid_client')
    } finally {
      gw.deps.now = undefined
    }
  })

  test('unauthorized_client for another RFC 6749 grant; unsupported_grant_type for an unknown one', async () => {
    for (const grant of ['password', 'refresh_token', 'authorization_code']) {
      await expectOAuthError(await tokenRequest({ grant_type: grant }, ok()), 400, 'unauthorized_client')
    }
    await expectOAuthError(await tokenRequest({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code' }, ok()), 400, 'unsupported_grant_type')
    await expectOAuthError(await tokenRequest({ grant_type: 'banana' }, ok()), 400, 'unsupported_grant_type')
  })

  test('invalid_scope for a scope the client does not hold or that does not exist', async () => {
    for (const scope of ['messages:send', 'apps:read apps:write', 'root']) {
      const body = await expectOAuthError(await tokenRequest({ grant_type: 'client_credentials', scope }, ok()), 400, 'invalid_scope')
      expect(body.error_description).toContain(scope.split(' ').at(-1)!)
    }
  })

  test('invalid_grant once the client\'s namespace is disabled', async () => {
    const tenant = await gw.tenant('initech')
    const c = await newClient(['apps:read'], {}, 'initech', tenant.key)
    const jwt = (await token(c)).access_token
    expect((await api(jwt, '/v1/namespaces/initech/apps')).status).toBe(200)
    await gw.deps.store.tx((tx) => tx.update(namespaces).set({ status: 'disabled' }).where(eq(namespaces.id, tenant.namespaceId)))
    await Bun.sleep(1100)
    await expectOAuthError(await tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic(c.client_id, c.client_secret) }), 400, 'invalid_grant')
    expect((await api(jwt, '/v1/namespaces/initech/apps')).status).toBe(401)
  })

  test('GET is refused with 405', async () => {
    const res = await gw.app.request('/oauth/token')
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe('POST')
  })
})

describe('using tokens', () => {
  test('a client token calls the API with its scopes only, in its namespace only', async () => {
    const jwt = (await token()).access_token
    expect((await api(jwt)).status).toBe(200)
    expect((await api(jwt, '/v1/namespaces/acme/apps')).status).toBe(200)
    const send = await api(jwt, '/v1/namespaces/acme/messages', 'POST', { channel: 'x', to: 'y', content: { text: 'z' } })
    expect(send.status).toBe(403)
    expect(((await send.json()) as { detail: string }).detail).toContain('messages:send')
    expect((await api(jwt, '/v1/namespaces/acme/webhooks')).status).toBe(403)
    expect((await api(jwt, '/v1/namespaces/umbrella/channels')).status).toBe(404)
  })

  test('scope narrowing: the token holds only what was asked, and the API holds it to that', async () => {
    const narrowed = await token(client, 'apps:read')
    expect(narrowed.scope).toBe('apps:read')
    expect((await independentlyVerified(narrowed.access_token))?.scope).toBe('apps:read')
    expect((await api(narrowed.access_token, '/v1/namespaces/acme/apps')).status).toBe(200)
    expect((await api(narrowed.access_token)).status).toBe(403)
  })

  test('an expired token is refused', async () => {
    const jwt = (await token()).access_token
    expect((await api(jwt)).status).toBe(200)
    gw.deps.now = () => Date.now() + (gw.config.security.access_token_ttl_seconds + 5) * 1000
    try {
      expect((await api(jwt)).status).toBe(401)
    } finally {
      gw.deps.now = undefined
    }
    expect((await api(jwt)).status).toBe(200)
  })

  test('a tampered token is refused: a widened scope, another namespace, a changed signature, alg none', async () => {
    const jwt = (await token(client, 'channels:read')).access_token
    const [h, p, s] = jwt.split('.') as [string, string, string]
    const claims = decode(p)
    const forge = (changes: Record<string, unknown>) => `${h}.${Buffer.from(JSON.stringify({ ...claims, ...changes })).toString('base64url')}.${s}`
    expect((await api(forge({ scope: 'channels:read channels:write messages:send' }))).status).toBe(401)
    expect((await api(forge({ ns: 'umbrella' }), '/v1/namespaces/umbrella/channels')).status).toBe(401)
    expect((await api(`${h}.${p}.${s.slice(0, -4)}AAAA`)).status).toBe(401)
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')
    expect((await api(`${none}.${p}.`)).status).toBe(401)
    expect((await api(`${none}.${p}.${s}`)).status).toBe(401)
  })

  test("a token for another audience or issuer, even signed with the instance's own key, is refused", async () => {
    // Test-only: the active private key, opened with the master key, to sign what the server never would.
    const [row] = await gw.deps.store.read.select().from(signingKeys).where(eq(signingKeys.status, 'active'))
    const privateKey = await importJWK(gw.deps.box.openJson<JWK>(row!.privateEnc, row!.id), row!.alg)
    const sign = (aud: string, iss: string) =>
      new SignJWT({ sub: client.application_id, cid: client.client_id, ns: 'acme', scope: 'channels:read' })
        .setProtectedHeader({ alg: row!.alg, kid: row!.id, typ: 'at+jwt' })
        .setAudience(aud)
        .setIssuer(iss)
        .setIssuedAt()
        .setExpirationTime('5m')
        .setJti(crypto.randomUUID())
        .sign(privateKey)
    // The control: the same recipe with the right audience and issuer is accepted.
    expect((await api(await sign('omnigate', gw.deps.publicUrl))).status).toBe(200)
    expect((await api(await sign('another-api', gw.deps.publicUrl))).status).toBe(401)
    expect((await api(await sign('omnigate', 'https://evil.example'))).status).toBe(401)
  })

  test('a token signed by a foreign key under a known kid is refused', async () => {
    const jwt = (await token()).access_token
    const header = decode(jwt.split('.')[0]!)
    const foreign = await generateKeyPair('ES256')
    const forged = await new SignJWT(decode(jwt.split('.')[1]!)).setProtectedHeader(header as { alg: string }).sign(foreign.privateKey)
    expect((await api(forged)).status).toBe(401)
    expect(await independentlyVerified(forged)).toBeNull()
  })

  test('revoking the client stops its tokens at once here, and within a second when revoked elsewhere', async () => {
    const c = await newClient(['channels:read'])
    const jwt = (await token(c)).access_token
    expect((await api(jwt)).status).toBe(200)
    expect((await gw.call('DELETE', `/v1/namespaces/acme/apps/test-app/clients/${c.client_id}`, acme.key)).status).toBe(204)
    expect((await api(jwt)).status).toBe(401)

    const other = await newClient(['channels:read'])
    const otherJwt = (await token(other)).access_token
    expect((await api(otherJwt)).status).toBe(200)
    await gw.deps.store.tx((tx) => tx.update(oauthClients).set({ revokedAt: Date.now() }).where(eq(oauthClients.id, other.client_id)))
    await Bun.sleep(1100)
    expect((await api(otherJwt)).status).toBe(401)
  })

  test('an application deleted with its client: the token is refused', async () => {
    const app = await gw.call('POST', '/v1/namespaces/acme/apps', acme.key, { name: 'short-lived' })
    expect(app.status).toBe(201)
    const res = await gw.call('POST', '/v1/namespaces/acme/apps/short-lived/clients', acme.key, { scopes: ['channels:read'] })
    const jwt = (await token((await res.json()) as Client)).access_token
    expect((await api(jwt)).status).toBe(200)
    expect((await gw.call('DELETE', '/v1/namespaces/acme/apps/short-lived', acme.key)).status).toBe(204)
    expect((await api(jwt)).status).toBe(401)
  })
})

describe('signing key rotation', () => {
  test('tokens signed before a rotation stay valid; the JWKS lists both keys; new tokens use the new kid', async () => {
    const before = (await token()).access_token
    const oldKid = decode(before.split('.')[0]!).kid as string
    const rotated = await rotateSigningKeys(gw.deps)
    expect(rotated.kid).not.toBe(oldKid)

    const kids = ((await (await gw.app.request('/.well-known/jwks.json')).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid)
    expect(kids).toContain(oldKid)
    expect(kids).toContain(rotated.kid)

    expect((await api(before)).status).toBe(200)
    expect(await independentlyVerified(before)).not.toBeNull()
    const after = (await token()).access_token
    expect(decode(after.split('.')[0]!).kid).toBe(rotated.kid)
    expect((await api(after)).status).toBe(200)
    expect(await independentlyVerified(after)).not.toBeNull()
  })
})

// Last, and alone: signing-keys.ts caches the keys per process (not per store) for 5 s, so
// the gateway above must not be used again once this one has filled the cache.
describe('EdDSA', () => {
  test('security.token_alg = "EdDSA": Ed25519 keys in the JWKS, tokens verified independently and accepted', async () => {
    await gw.close()
    gw = await startTestGateway({ security: { token_alg: 'EdDSA' } })
    acme = await gw.tenant('acme')
    const c = await newClient(['channels:read'])
    const body = await token(c)
    expect(decode(body.access_token.split('.')[0]!).alg).toBe('EdDSA')
    const { keys } = (await (await gw.app.request('/.well-known/jwks.json')).json()) as { keys: Record<string, string>[] }
    expect(keys).toEqual([expect.objectContaining({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' })])
    expect((await independentlyVerified(body.access_token))?.cid).toBe(c.client_id)
    expect((await api(body.access_token)).status).toBe(200)
  })
})
