/**
 * People signing in: login, the session cookie, refresh with rotation, logout that bites,
 * password change and reset by e-mail (through a real SMTP server), and the login rate limit.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { decodeJwt } from 'jose'
import { simpleParser } from 'mailparser'
import type { Deps } from '../../src/domain/deps'
import { createApplication } from '../../src/domain/identity/applications'
import { createApiKey } from '../../src/domain/identity/api-keys'
import { hashPassword, insertUser, setPasswordHashCost } from '../../src/domain/identity/users'
import { auditLog, sessions, users } from '../../src/store/schema'
import { startSmtpSink, type SmtpSink } from '../fakes/smtp-server'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'
import { expectProblem } from '../helpers/problems'

// argon2 at full cost takes ~150 ms a hash: cheap parameters keep the file fast. The stored
// format and the algorithm are the same.
setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })

const PASSWORD = 'correct horse battery'

async function makeUser(deps: Deps, email: string, password = PASSWORD, extra: { disabled?: boolean } = {}) {
  const passwordHash = await hashPassword(password)
  const user = await deps.store.tx((tx) => insertUser(tx, { email, passwordHash }, Date.now()))
  if (extra.disabled) await deps.store.tx((tx) => tx.update(users).set({ disabled: true }).where(eq(users.id, user.id)))
  return user
}

/** The `og_session` cookie of a response: its value and attributes. */
function sessionCookie(res: Response) {
  const header = res.headers.getSetCookie().find((c) => c.startsWith('og_session='))
  if (!header) return null
  const [pair, ...attrs] = header.split(';').map((s) => s.trim())
  return { value: pair!.slice('og_session='.length), attrs: attrs.map((a) => a.toLowerCase()), header }
}

async function mailText(raw: Buffer) {
  const mail = await simpleParser(raw)
  return { subject: mail.subject ?? '', text: mail.text ?? '', to: (mail.to as { text: string }).text }
}

let sink: SmtpSink
let gw: TestGateway
const login = (email: string, password: string, headers: Record<string, string> = {}) =>
  gw.call('POST', '/v1/auth/login', null, { email, password }, headers)

beforeAll(async () => {
  sink = await startSmtpSink()
  gw = await startTestGateway({
    limits: { login_attempts_per_minute: 1000 },
    mail: { smtp_url: `smtp://127.0.0.1:${sink.port}`, from: 'omnigate <noreply@gw.test>' },
  })
})
afterAll(async () => {
  await gw.close()
  await sink.stop()
})

describe('login', () => {
  test('returns a Bearer access token for the user and session, and sets the httpOnly session cookie', async () => {
    const alice = await makeUser(gw.deps, 'Alice@Example.com')
    expect(alice.email).toBe('alice@example.com')
    const res = await login('ALICE@example.com ', PASSWORD)
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = (await res.json()) as { access_token: string; token_type: string; expires_in: number }
    expect(body.token_type).toBe('Bearer')
    expect(body.expires_in).toBe(gw.config.security.access_token_ttl_seconds)
    const claims = decodeJwt(body.access_token)
    expect(claims).toMatchObject({ sub: alice.id, typ: 'user', aud: 'omnigate', iss: gw.deps.publicUrl })
    const [session] = await gw.deps.store.read.select().from(sessions).where(eq(sessions.userId, alice.id))
    expect(claims.sid).toBe(session!.id)

    const cookie = sessionCookie(res)!
    expect(cookie.attrs).toContain('httponly')
    expect(cookie.attrs).toContain('samesite=strict')
    expect(cookie.attrs).toContain('path=/')
    // As long as the session lives (less the milliseconds spent answering).
    const maxAge = Number(cookie.attrs.find((a) => a.startsWith('max-age='))!.slice(8))
    expect(maxAge).toBeWithin(gw.config.security.session_ttl_hours * 3600 - 5, gw.config.security.session_ttl_hours * 3600 + 1)
    // The public URL is http here, so the cookie must not be Secure (browsers would drop it).
    expect(cookie.attrs).not.toContain('secure')
    // Only the hash of the refresh token is stored.
    expect(session!.refreshHash).not.toContain(cookie.value)
    expect(JSON.stringify(body)).not.toContain(cookie.value)

    const me = await gw.call('GET', '/v1/auth/me', body.access_token)
    expect(me.status).toBe(200)
    expect(((await me.json()) as { user: { email: string; instance_admin: boolean } }).user).toMatchObject({ email: 'alice@example.com', instance_admin: false })
  })

  test('an unknown email and a wrong password get the same 401, word for word', async () => {
    await makeUser(gw.deps, 'bob@example.com')
    const strip = async (res: Response) => {
      expect(res.status).toBe(401)
      expect(res.headers.get('content-type')).toStartWith('application/problem+json')
      expect(sessionCookie(res)).toBeNull()
      const { request_id: _, ...rest } = (await res.json()) as Record<string, unknown>
      return rest
    }
    const wrongPassword = await strip(await login('bob@example.com', 'not the password'))
    const unknownEmail = await strip(await login('nobody@example.com', 'not the password'))
    expect(wrongPassword.code).toBe('invalid_credentials')
    expect(unknownEmail).toEqual(wrongPassword)
  })

  test('a disabled user cannot log in, and gets the same answer', async () => {
    await makeUser(gw.deps, 'carol@example.com', PASSWORD, { disabled: true })
    const res = await login('carol@example.com', PASSWORD)
    expect(res.status).toBe(401)
    expect(((await res.json()) as { code: string }).code).toBe('invalid_credentials')
  })

  test('unknown fields and missing ones are 422 naming the field', async () => {
    const res = await gw.call('POST', '/v1/auth/login', null, { email: 'a@b.c', password: 'x', remember: true })
    expect(res.status).toBe(422)
    expect(JSON.stringify(await res.json())).toContain('remember')
    const missing = await gw.call('POST', '/v1/auth/login', null, { email: 'a@b.c' })
    expect(((await missing.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual(['password'])
  })

  test('argon2id hashes of the same password differ, and both verify', async () => {
    const [a, b] = [await makeUser(gw.deps, 'twin1@example.com'), await makeUser(gw.deps, 'twin2@example.com')]
    expect(a.passwordHash).toStartWith('$argon2id$')
    expect(a.passwordHash).not.toBe(b.passwordHash)
    expect(await Bun.password.verify(PASSWORD, a.passwordHash!)).toBe(true)
    expect(await Bun.password.verify(PASSWORD, b.passwordHash!)).toBe(true)
  })
})

describe('the session cookie', () => {
  test('authenticates the portal when there is no Authorization header', async () => {
    await makeUser(gw.deps, 'dave@example.com')
    const cookie = sessionCookie(await login('dave@example.com', PASSWORD))!
    const me = await gw.app.request('/v1/auth/me', { headers: { cookie: `og_session=${cookie.value}` } })
    expect(me.status).toBe(200)
    // An Authorization header wins: a bad token is refused even with a good cookie.
    const both = await gw.app.request('/v1/auth/me', { headers: { cookie: `og_session=${cookie.value}`, authorization: 'Bearer nope' } })
    expect(both.status).toBe(401)
    const forged = await gw.app.request('/v1/auth/me', { headers: { cookie: 'og_session=ogs_forged' } })
    expect(forged.status).toBe(401)
  })
})

describe('refresh and logout', () => {
  test('refresh by cookie rotates it: a new access token, and the old cookie stops working', async () => {
    await makeUser(gw.deps, 'erin@example.com')
    const first = sessionCookie(await login('erin@example.com', PASSWORD))!
    const res = await gw.app.request('/v1/auth/refresh', { method: 'POST', headers: { cookie: `og_session=${first.value}` } })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { access_token: string; refresh_token?: string }
    expect(body.refresh_token).toBeUndefined()
    const second = sessionCookie(res)!
    expect(second.value).not.toBe(first.value)
    expect((await gw.call('GET', '/v1/auth/me', body.access_token)).status).toBe(200)
    const again = await gw.app.request('/v1/auth/refresh', { method: 'POST', headers: { cookie: `og_session=${first.value}` } })
    expect(again.status).toBe(401)
    expect((await gw.app.request('/v1/auth/me', { headers: { cookie: `og_session=${second.value}` } })).status).toBe(200)
  })

  test('a rotated refresh token presented again later revokes the session (reuse); right after the rotation it is only refused', async () => {
    const user = await makeUser(gw.deps, 'rita@example.com')
    const refresh = (token: string) => gw.call('POST', '/v1/auth/refresh', null, { refresh_token: token })
    const first = sessionCookie(await login('rita@example.com', PASSWORD))!.value
    const second = ((await (await refresh(first)).json()) as { refresh_token: string }).refresh_token

    // Within the grace (two tabs, a retry that lost its answer): refused, the session lives.
    expect((await refresh(first)).status).toBe(401)
    const third = (await (await refresh(second)).json()) as { access_token: string; refresh_token: string }
    expect((await gw.call('GET', '/v1/auth/me', third.access_token)).status).toBe(200)

    // Later, the token that `third` replaced comes back: a copy is in someone else's hands.
    const realNow = gw.deps.now
    gw.deps.now = () => Date.now() + 60_000
    try {
      await expectProblem(await refresh(second), 401, 'unauthorized')
    } finally {
      gw.deps.now = realNow
    }
    const [session] = await gw.deps.store.read.select().from(sessions).where(eq(sessions.userId, user.id))
    expect(session!.revokedAt).not.toBeNull()
    // Both holders lose it: the current refresh token and the access token minted from it.
    expect((await refresh(third.refresh_token)).status).toBe(401)
    expect((await gw.call('GET', '/v1/auth/me', third.access_token)).status).toBe(401)
    const entries = await gw.deps.store.read.select().from(auditLog).where(eq(auditLog.resourceId, session!.id))
    expect(entries.map((e) => [e.action, e.actorType, (e.detail as { user_id?: string }).user_id])).toEqual([['session revoked: refresh token reused', 'system', user.id]])
    // A token never issued is just unknown: nothing is revoked.
    expect((await refresh('ogs_never-issued-token')).status).toBe(401)
  })

  test('refresh by body answers with the next refresh token in the body', async () => {
    await makeUser(gw.deps, 'frank@example.com')
    const first = sessionCookie(await login('frank@example.com', PASSWORD))!
    const res = await gw.call('POST', '/v1/auth/refresh', null, { refresh_token: first.value })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { refresh_token: string }
    expect(body.refresh_token).toStartWith('ogs_')
    expect((await gw.call('POST', '/v1/auth/refresh', null, { refresh_token: body.refresh_token })).status).toBe(200)
    expect((await gw.call('POST', '/v1/auth/refresh', null, {})).status).toBe(401)
  })

  test('logout revokes the session: its access token, its cookie and its refresh token are refused at once', async () => {
    await makeUser(gw.deps, 'gina@example.com')
    const res = await login('gina@example.com', PASSWORD)
    const { access_token } = (await res.json()) as { access_token: string }
    const cookie = sessionCookie(res)!
    expect((await gw.call('GET', '/v1/auth/me', access_token)).status).toBe(200)
    const out = await gw.call('POST', '/v1/auth/logout', access_token)
    expect(out.status).toBe(204)
    expect(sessionCookie(out)!.attrs).toContain('max-age=0')
    const after = await gw.call('GET', '/v1/auth/me', access_token)
    expect(after.status).toBe(401)
    expect((await gw.app.request('/v1/auth/me', { headers: { cookie: `og_session=${cookie.value}` } })).status).toBe(401)
    expect((await gw.call('POST', '/v1/auth/refresh', null, { refresh_token: cookie.value })).status).toBe(401)
    // The token itself is still unexpired and correctly signed: the session is what refused it.
    expect(decodeJwt(access_token).exp! * 1000).toBeGreaterThan(Date.now())
  })

  test('a logout by the cookie alone (the portal) works too', async () => {
    await makeUser(gw.deps, 'hank@example.com')
    const res = await login('hank@example.com', PASSWORD)
    const { access_token } = (await res.json()) as { access_token: string }
    const cookie = sessionCookie(res)!
    const out = await gw.app.request('/v1/auth/logout', { method: 'POST', headers: { cookie: `og_session=${cookie.value}` } })
    expect(out.status).toBe(204)
    expect((await gw.call('GET', '/v1/auth/me', access_token)).status).toBe(401)
  })

  test('a session revoked by another process (straight in the store) is refused once the 1 s cache has passed', async () => {
    await makeUser(gw.deps, 'ivan@example.com')
    const { access_token } = (await (await login('ivan@example.com', PASSWORD)).json()) as { access_token: string }
    expect((await gw.call('GET', '/v1/auth/me', access_token)).status).toBe(200)
    const sid = decodeJwt(access_token).sid as string
    await gw.deps.store.tx((tx) => tx.update(sessions).set({ revokedAt: Date.now() }).where(eq(sessions.id, sid)))
    await Bun.sleep(1100)
    expect((await gw.call('GET', '/v1/auth/me', access_token)).status).toBe(401)
  })

  test('a user disabled after logging in is refused once the cache has passed', async () => {
    const user = await makeUser(gw.deps, 'judy@example.com')
    const { access_token } = (await (await login('judy@example.com', PASSWORD)).json()) as { access_token: string }
    await gw.deps.store.tx((tx) => tx.update(users).set({ disabled: true }).where(eq(users.id, user.id)))
    await Bun.sleep(1100)
    expect((await gw.call('GET', '/v1/auth/me', access_token)).status).toBe(401)
  })

  test('/v1/auth/me is for people: an API key gets 403 user_required', async () => {
    const tenant = await gw.tenant('keys-only')
    const res = await gw.call('GET', '/v1/auth/me', tenant.key)
    expect(res.status).toBe(403)
    expect(((await res.json()) as { code: string }).code).toBe('user_required')
    expect((await gw.call('GET', '/v1/auth/me', null)).status).toBe(401)
  })
})

describe('password change', () => {
  test('needs the current password; logs out the other sessions, keeps this one', async () => {
    await makeUser(gw.deps, 'kim@example.com')
    const other = (await (await login('kim@example.com', PASSWORD)).json()) as { access_token: string }
    const mine = (await (await login('kim@example.com', PASSWORD)).json()) as { access_token: string }
    const wrong = await gw.call('POST', '/v1/auth/password', mine.access_token, { current_password: 'guess guess guess', new_password: 'a brand new password' })
    expect(wrong.status).toBe(422)
    expect(((await wrong.json()) as { errors: { field: string }[] }).errors[0]!.field).toBe('current_password')
    const short = await gw.call('POST', '/v1/auth/password', mine.access_token, { current_password: PASSWORD, new_password: 'short' })
    expect(((await short.json()) as { errors: { field: string }[] }).errors[0]!.field).toBe('new_password')

    const ok = await gw.call('POST', '/v1/auth/password', mine.access_token, { current_password: PASSWORD, new_password: 'a brand new password' })
    expect(ok.status).toBe(204)
    expect((await gw.call('GET', '/v1/auth/me', mine.access_token)).status).toBe(200)
    expect((await gw.call('GET', '/v1/auth/me', other.access_token)).status).toBe(401)
    expect((await login('kim@example.com', PASSWORD)).status).toBe(401)
    expect((await login('kim@example.com', 'a brand new password')).status).toBe(200)
  })
})

describe('password reset by e-mail', () => {
  test('always 202; the link arrives at the SMTP server only for a real account, sets the password once and logs out every session', async () => {
    await makeUser(gw.deps, 'liz@example.com')
    const before = (await (await login('liz@example.com', PASSWORD)).json()) as { access_token: string }
    const already = sink.received.length

    const unknown = await gw.call('POST', '/v1/auth/password-reset', null, { email: 'nobody-here@example.com' })
    expect(unknown.status).toBe(202)
    const known = await gw.call('POST', '/v1/auth/password-reset', null, { email: 'LIZ@example.com' })
    expect(known.status).toBe(202)
    expect(await known.text()).toBe(await unknown.clone().text())

    const wire = await eventually(async () => sink.received.slice(already).find((m) => m.rcptTo.includes('liz@example.com')))
    expect(wire.mailFrom).toBe('noreply@gw.test')
    const mail = await mailText(wire.raw)
    expect(mail.subject).toContain('Reset')
    const link = mail.text.match(/(\S+)\/portal\/reset\?token=([\w-]+)/)!
    expect(link[1]).toBe(gw.deps.publicUrl)
    const token = link[2]!
    // Only the one mail: the unknown address got nothing.
    expect(sink.received.slice(already).length).toBe(1)

    const weak = await gw.call('POST', '/v1/auth/password-reset/confirm', null, { token, password: 'short' })
    expect(weak.status).toBe(422)
    const set = await gw.call('POST', '/v1/auth/password-reset/confirm', null, { token, password: 'reset to something long' })
    expect(set.status).toBe(204)
    expect((await gw.call('GET', '/v1/auth/me', before.access_token)).status).toBe(401)
    expect((await login('liz@example.com', 'reset to something long')).status).toBe(200)

    const reuse = await gw.call('POST', '/v1/auth/password-reset/confirm', null, { token, password: 'and once more please' })
    expect(reuse.status).toBe(400)
    expect(((await reuse.json()) as { code: string; errors: { field: string }[] })).toMatchObject({ code: 'invalid_token', errors: [{ field: 'token' }] })
    expect((await login('liz@example.com', 'and once more please')).status).toBe(401)
  })

  test('a made-up token is refused', async () => {
    const res = await gw.call('POST', '/v1/auth/password-reset/confirm', null, { token: 'x'.repeat(43), password: 'reset to something long' })
    expect(res.status).toBe(400)
  })
})

describe('without [mail], and with a tight login limit', () => {
  let tight: TestGateway
  beforeAll(async () => {
    tight = await startTestGateway({ limits: { login_attempts_per_minute: 3 } })
  })
  afterAll(() => tight.close())
  const attempt = (email: string, password: string, ip?: string) =>
    tight.app.request(
      '/v1/auth/login',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) },
      // What Bun.serve passes as the second fetch argument: the server, which knows the peer.
      ip ? { requestIP: () => ({ address: ip, family: 'IPv4', port: 40000 }) } : undefined,
    )

  test('password reset answers 503 mail_not_configured', async () => {
    const res = await tight.call('POST', '/v1/auth/password-reset', null, { email: 'someone@example.com' })
    expect(res.status).toBe(503)
    expect(((await res.json()) as { code: string }).code).toBe('mail_not_configured')
  })

  test('per account: the 4th attempt in a minute is 429 with Retry-After, even with the right password', async () => {
    await makeUser(tight.deps, 'mallory@example.com')
    for (let i = 0; i < 3; i++) expect((await attempt('mallory@example.com', 'wrong wrong wrong', `198.51.100.${i + 1}`)).status).toBe(401)
    const limited = await attempt('mallory@example.com', PASSWORD, '198.51.100.99')
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(((await limited.json()) as { code: string }).code).toBe('too_many_attempts')
  })

  test('per client address: a 4th account from the same address is refused, another address is not', async () => {
    await makeUser(tight.deps, 'nina@example.com')
    for (const who of ['x1@example.com', 'x2@example.com', 'x3@example.com']) expect((await attempt(who, 'wrong wrong wrong', '203.0.113.7')).status).toBe(401)
    expect((await attempt('nina@example.com', PASSWORD, '203.0.113.7')).status).toBe(429)
    expect((await attempt('nina@example.com', PASSWORD, '203.0.113.8')).status).toBe(200)
  })
})

describe('the client address over a real socket (Bun.serve)', () => {
  /** Login attempts by distinct accounts through a real server, each with an X-Forwarded-For. */
  async function attempts(trustedProxies: string[], forwardedFor: string[]): Promise<number[]> {
    const local = await startTestGateway({ limits: { login_attempts_per_minute: 2 }, server: { trusted_proxies: trustedProxies } })
    const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: local.app.fetch })
    try {
      const statuses: number[] = []
      for (const [i, xff] of forwardedFor.entries()) {
        const res = await fetch(`http://127.0.0.1:${server.port}/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': xff },
          body: JSON.stringify({ email: `someone${i}@example.com`, password: 'wrong wrong wrong' }),
        })
        statuses.push(res.status)
      }
      return statuses
    } finally {
      await server.stop(true)
      await local.close()
    }
  }

  test('behind a trusted proxy, each forwarded client has its own budget', async () => {
    expect(await attempts(['127.0.0.1'], ['203.0.113.1', '203.0.113.1', '203.0.113.1', '203.0.113.2'])).toEqual([401, 401, 429, 401])
  })

  test('from an untrusted peer, X-Forwarded-For changes nothing', async () => {
    expect(await attempts([], ['203.0.113.1', '203.0.113.2', '203.0.113.3'])).toEqual([401, 401, 429])
  })
})

describe('applications cannot use the people routes', () => {
  test('an API key on /v1/auth/password is 403', async () => {
    const ns = await gw.tenant('app-only')
    const app = await createApplication(gw.deps, ns.namespaceId, { name: 'second' })
    const { secret } = await createApiKey(gw.deps, ns.namespaceId, { applicationId: app.id })
    const res = await gw.call('POST', '/v1/auth/password', secret, { current_password: 'a', new_password: 'b' })
    expect(res.status).toBe(403)
  })
})

// Last in the file: signing keys are cached per process (signing-keys.ts), so right after another
// gateway opens, the main one would sign and verify with that gateway's keys for a few seconds.
describe('the session cookie over https', () => {
  test('is Secure when server.public_url is https', async () => {
    const tls = await startTestGateway({ server: { public_url: 'https://gw.example.com' } })
    try {
      await makeUser(tls.deps, 'tls@example.com')
      const res = await tls.call('POST', '/v1/auth/login', null, { email: 'tls@example.com', password: PASSWORD })
      expect(res.status).toBe(200)
      expect(sessionCookie(res)!.attrs).toContain('secure')
    } finally {
      await tls.close()
    }
  })
})
