/**
 * Self-service signup end to end: the verification mail goes through a real SMTP server, the
 * link opens a page without script, verifies once and only once, provisions the namespace, and
 * the new key sends through the new sandbox channel. Refusals: signup off, no mail, disposable
 * and disallowed domains, taken and invalid names, and the rate limits.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { and, eq } from 'drizzle-orm'
import { simpleParser } from 'mailparser'
import { createInvitation } from '../../src/domain/identity/invitations'
import { hashPassword, insertUser, setPasswordHashCost } from '../../src/domain/identity/users'
import { provisionNow } from '../../src/domain/provisioning/provision'
import { verifyEmail } from '../../src/domain/provisioning/signup'
import { apiKeys, applications, channels, emailVerifications, memberships, namespaces, provisioningJobs, users } from '../../src/store/schema'
import { startSmtpSink, type SmtpSink } from '../fakes/smtp-server'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

// Cheap argon2 parameters: every signup hashes a password. The stored format is the same.
setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })

const PASSWORD = 'a long signup password'
type Problem = { code: string; status: number; detail: string; errors?: { field: string; message: string }[] }
type Provisioning = { namespace: string; status: string; step: string; api_key?: string; plan: string | null }

let sink: SmtpSink
let gw: TestGateway
const mailOf = (port: number) => ({ smtp_url: `smtp://127.0.0.1:${port}`, from: 'omnigate <noreply@gw.test>' })

beforeAll(async () => {
  sink = await startSmtpSink()
  gw = await startTestGateway({
    signup: { enabled: true },
    mail: mailOf(sink.port),
    limits: { login_attempts_per_minute: 1000 },
  })
})
afterAll(async () => {
  await gw.close()
  await sink.stop()
})

const signupCall = (email: string, namespace: string, extra: Record<string, unknown> = {}) =>
  gw.call('POST', '/v1/auth/signup', null, { email, password: PASSWORD, namespace, ...extra })
/** Moves the gateway's clock a minute on (the one-mail-a-minute limit refills); `restoreClock` undoes it. */
let clockShift = 0
const nextMinute = () => {
  clockShift += 61_000
  const shift = clockShift
  gw.deps.now = () => Date.now() + shift
}
const restoreClock = () => {
  clockShift = 0
  gw.deps.now = undefined
}

/** The next mail to `email` after the first `after` mails, parsed. */
async function nextMail(email: string, after: number) {
  const wire = await eventually(async () => sink.received.slice(after).find((m) => m.rcptTo.includes(email)))
  const mail = await simpleParser(wire.raw)
  return { subject: mail.subject ?? '', text: mail.text ?? '' }
}

function linkIn(text: string): { path: string; token: string } {
  const match = text.match(/(\S+)(\/portal\/verify\?token=([\w-]+))/)
  if (!match) throw new Error(`no verification link in: ${text}`)
  expect(match[1]).toBe(gw.deps.publicUrl)
  return { path: match[2]!, token: match[3]! }
}

async function expectProblem(res: Response, status: number, code: string): Promise<Problem> {
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toStartWith('application/problem+json')
  const body = (await res.json()) as Problem
  expect(body.code).toBe(code)
  return body
}

const login = (email: string, password = PASSWORD) => gw.call('POST', '/v1/auth/login', null, { email, password })

describe('signup, end to end', () => {
  test('the mail arrives, the page confirms with one button, the link works once, login works, the key sends through sandbox', async () => {
    const before = sink.received.length
    const res = await signupCall('Founder@Startup.test', 'startup')
    expect(res.status).toBe(202)
    expect(await res.json()).toEqual({ status: 'pending_verification', detail: expect.any(String) })

    const mail = await nextMail('founder@startup.test', before)
    expect(mail.subject).toBe('Confirm your omnigate signup')
    expect(mail.text).toContain('"startup"')
    const link = linkIn(mail.text)

    // An unverified signup cannot log in: its password waits with the link.
    expect((await login('founder@startup.test')).status).toBe(401)
    const [pending] = await gw.deps.store.read.select().from(users).where(eq(users.email, 'founder@startup.test'))
    expect(pending).toMatchObject({ verified: false, passwordHash: null })
    // Only the token's hash is stored.
    const stored = await gw.deps.store.read.select().from(emailVerifications).where(eq(emailVerifications.userId, pending!.id))
    expect(stored).toHaveLength(1)
    expect(JSON.stringify(stored)).not.toContain(link.token)

    // The page: a form, no script, a strict CSP; opening it uses nothing up.
    const pageRes = await gw.app.request(link.path)
    expect(pageRes.status).toBe(200)
    expect(pageRes.headers.get('content-type')).toStartWith('text/html')
    expect(pageRes.headers.get('content-security-policy')).toStartWith("default-src 'none'; style-src 'self'")
    expect(pageRes.headers.get('referrer-policy')).toBe('no-referrer')
    const html = await pageRes.text()
    expect(html).not.toContain('<script')
    expect(html).toContain('<form method="post" action="/portal/verify">')
    expect(html).toContain(`name="token" value="${link.token}"`)
    // It says what the button will do, before it is pressed.
    expect(html).toContain('<strong>founder@startup.test</strong>')
    expect(html).toContain('<strong>startup</strong>')
    expect((await gw.app.request(link.path)).status).toBe(200)

    // The button: verified, provisioned, the key shown once on the result page.
    const form = () => gw.app.request('/portal/verify', { method: 'POST', body: new URLSearchParams({ token: link.token }) })
    const confirmed = await form()
    expect(confirmed.status).toBe(200)
    expect(confirmed.headers.get('content-security-policy')).toStartWith("default-src 'none'")
    const result = await confirmed.text()
    const key = result.match(/og_live_[\w-]{32}/)?.[0]
    expect(key).toBeDefined()
    expect(result).not.toContain('<script')

    // Once and only once: the page and the API both refuse the used link.
    const again = await form()
    expect(again.status).toBe(400)
    expect(await again.text()).toContain('invalid, expired or already used')
    expect((await gw.app.request(link.path)).status).toBe(400)
    const apiAgain = await expectProblem(await gw.call('POST', '/v1/auth/verify', null, { token: link.token }), 400, 'invalid_token')
    expect(apiAgain.errors?.[0]?.field).toBe('token')

    // Login works; the user owns the namespace.
    const loggedIn = await login('founder@startup.test')
    expect(loggedIn.status).toBe(200)
    const { access_token: token } = (await loggedIn.json()) as { access_token: string }
    const me = (await (await gw.call('GET', '/v1/auth/me', token)).json()) as { user: { verified: boolean }; namespaces: { slug: string; role: string }[] }
    expect(me.user.verified).toBe(true)
    expect(me.namespaces).toEqual([expect.objectContaining({ slug: 'startup', role: 'owner' })])

    // The key was shown once: the provisioning status does not show it again.
    const status = await gw.call('GET', '/v1/namespaces/startup/provisioning', token)
    expect(status.status).toBe(200)
    const view = (await status.json()) as Provisioning
    expect(view).toMatchObject({ namespace: 'startup', status: 'ready', step: 'done', plan: 'free' })
    expect(view.api_key).toBeUndefined()

    // The plan's quotas are the namespace's.
    const [ns] = await gw.deps.store.read.select().from(namespaces).where(eq(namespaces.slug, 'startup'))
    expect(ns!.plan).toBe('free')
    expect(ns!.settings.quotas).toEqual({ messages_per_day: 1000, messages_per_month: 10000, requests_per_second: 20 })

    // The new key sends through the new sandbox channel, to delivered.
    await gw.startEngine()
    const sent = await gw.call('POST', '/v1/namespaces/startup/messages', key!, { channel: 'sandbox', to: 'alice@example.com', content: { text: 'first!' } })
    expect(sent.status).toBe(202)
    const { id } = (await sent.json()) as { id: string }
    await eventually(async () => {
      const msg = (await (await gw.call('GET', `/v1/namespaces/startup/messages/${id}`, key!)).json()) as { status: string }
      return msg.status === 'delivered'
    })
  })

  test('POST /v1/auth/verify answers the key once; racing clicks verify exactly once', async () => {
    const before = sink.received.length
    expect((await signupCall('racer@example.com', 'racer')).status).toBe(202)
    const { token } = linkIn((await nextMail('racer@example.com', before)).text)
    const answers = await Promise.all([1, 2, 3].map(() => gw.call('POST', '/v1/auth/verify', null, { token })))
    const ok = answers.filter((r) => r.status === 200)
    expect(ok).toHaveLength(1)
    for (const r of answers.filter((a) => a.status !== 200)) await expectProblem(r, 400, 'invalid_token')
    const body = (await ok[0]!.json()) as Provisioning
    expect(body).toMatchObject({ namespace: 'racer', status: 'ready' })
    expect(body.api_key).toMatch(/^og_live_/)
    expect(ok[0]!.headers.get('cache-control')).toBe('no-store')

    // Exactly one of everything; the key is erased from the job once shown.
    const [ns] = await gw.deps.store.read.select().from(namespaces).where(eq(namespaces.slug, 'racer'))
    expect(await gw.deps.store.read.select().from(channels).where(eq(channels.namespaceId, ns!.id))).toHaveLength(1)
    expect(await gw.deps.store.read.select().from(applications).where(eq(applications.namespaceId, ns!.id))).toHaveLength(1)
    expect(await gw.deps.store.read.select().from(apiKeys).where(eq(apiKeys.namespaceId, ns!.id))).toHaveLength(1)
    expect(await gw.deps.store.read.select().from(memberships).where(eq(memberships.namespaceId, ns!.id))).toHaveLength(1)
    const [job] = await gw.deps.store.read.select().from(provisioningJobs).where(eq(provisioningJobs.slug, 'racer'))
    expect(gw.deps.box.open(job!.stateEnc!, job!.id)).not.toContain(body.api_key!)
  })

  test('when provisioning outlasts the verify call, the owner sees the key once at GET …/provisioning', async () => {
    const before = sink.received.length
    expect((await signupCall('patient@example.com', 'patient')).status).toBe(202)
    const { token } = linkIn((await nextMail('patient@example.com', before)).text)
    // Verify without running the job (as when the verifying process dies right after its commit).
    const job = await verifyEmail(gw.deps, token)
    expect(job.status).toBe('pending')
    await provisionNow(gw.deps, job.id, { revealKey: false })

    // An instance admin sees the status, but does not use up the owner's key.
    const rootHash = await hashPassword(PASSWORD)
    await gw.deps.store.tx((tx) => insertUser(tx, { email: 'root@example.com', passwordHash: rootHash, verified: true, instanceAdmin: true }, Date.now()))
    const root = (await (await login('root@example.com')).json()) as { access_token: string }
    const seen = (await (await gw.call('GET', '/v1/namespaces/patient/provisioning', root.access_token)).json()) as Provisioning
    expect(seen).toMatchObject({ namespace: 'patient', status: 'ready' })
    expect(seen.api_key).toBeUndefined()

    const loggedIn = (await (await login('patient@example.com')).json()) as { access_token: string }
    const first = (await (await gw.call('GET', '/v1/namespaces/patient/provisioning', loggedIn.access_token)).json()) as Provisioning
    expect(first).toMatchObject({ status: 'ready' })
    expect(first.api_key).toMatch(/^og_live_/)
    const second = (await (await gw.call('GET', '/v1/namespaces/patient/provisioning', loggedIn.access_token)).json()) as Provisioning
    expect(second.api_key).toBeUndefined()
    expect((await gw.call('GET', '/v1/namespaces/patient/channels', first.api_key!)).status).toBe(200)
  })

  test('an address that has an account gets the same answer, and a notice instead of a link', async () => {
    const passwordHash = await hashPassword('the existing password')
    await gw.deps.store.tx((tx) => insertUser(tx, { email: 'known@example.com', passwordHash, verified: true }, Date.now()))
    const before = sink.received.length
    const known = await signupCall('known@example.com', 'known-ns')
    const unknown = await signupCall('unknown@example.com', 'unknown-ns')
    expect(known.status).toBe(202)
    expect(await known.json()).toEqual(await unknown.json())
    const notice = await nextMail('known@example.com', before)
    expect(notice.subject).toBe('You already have an omnigate account')
    expect(notice.text).not.toContain('/portal/verify')
    // The existing password is untouched, and no link was made for the address.
    expect((await login('known@example.com', 'the existing password')).status).toBe(200)
    const [user] = await gw.deps.store.read.select().from(users).where(eq(users.email, 'known@example.com'))
    expect(await gw.deps.store.read.select().from(emailVerifications).where(eq(emailVerifications.userId, user!.id))).toHaveLength(0)
  })

  test('a name taken between signup and verification: 409 naming namespace, and the link stays unused', async () => {
    const before = sink.received.length
    expect((await signupCall('late@example.com', 'contested')).status).toBe(202)
    const { token } = linkIn((await nextMail('late@example.com', before)).text)
    await gw.tenant('contested')
    const problem = await expectProblem(await gw.call('POST', '/v1/auth/verify', null, { token }), 409, 'namespace_taken')
    expect(problem.errors).toEqual([{ field: 'namespace', message: expect.stringContaining('taken') }])
    const [user] = await gw.deps.store.read.select().from(users).where(eq(users.email, 'late@example.com'))
    expect(user!.verified).toBe(false)
    const [verification] = await gw.deps.store.read.select().from(emailVerifications).where(eq(emailVerifications.userId, user!.id))
    expect(verification!.usedAt).toBeNull()
  })
})

describe('refusals', () => {
  test('disposable and disallowed domains: 422 email_domain_not_allowed naming email', async () => {
    for (const email of ['x@mailinator.com', 'y@guerrillamail.com', 'z@eu.10minutemail.com']) {
      const problem = await expectProblem(await signupCall(email, 'throwaway'), 422, 'email_domain_not_allowed')
      expect(problem.errors?.map((e) => e.field)).toEqual(['email'])
      expect(problem.errors?.[0]?.message).toContain('disposable')
    }
    const strict = await startTestGateway({ signup: { enabled: true, allowed_domains: ['corp.test'] }, mail: mailOf(sink.port), limits: { login_attempts_per_minute: 1000 } })
    try {
      const problem = await expectProblem(
        await strict.call('POST', '/v1/auth/signup', null, { email: 'me@gmail.test', password: PASSWORD, namespace: 'mine' }),
        422,
        'email_domain_not_allowed',
      )
      expect(problem.errors?.map((e) => e.field)).toEqual(['email'])
      const allowed = await strict.call('POST', '/v1/auth/signup', null, { email: 'me@eu.corp.test', password: PASSWORD, namespace: 'mine' })
      expect(allowed.status).toBe(202)
    } finally {
      await strict.close()
    }
  })

  test('a taken, reserved or malformed namespace: 409 / 422 naming namespace', async () => {
    await gw.tenant('taken')
    const taken = await expectProblem(await signupCall('someone@example.com', 'taken'), 409, 'namespace_taken')
    expect(taken.errors?.map((e) => e.field)).toEqual(['namespace'])
    for (const bad of ['Not A Slug', '-dash', 'admin']) {
      const problem = await expectProblem(await signupCall('someone@example.com', bad), 422, 'validation_failed')
      expect(problem.errors?.map((e) => e.field)).toEqual(['namespace'])
    }
  })

  test('bad bodies: unknown fields, a short password, a bad address — 422 naming each', async () => {
    const unknown = await expectProblem(await signupCall('a@example.com', 'fine', { plan: 'pro' }), 422, 'validation_failed')
    expect(JSON.stringify(unknown.errors)).toContain('plan')
    const short = await expectProblem(await gw.call('POST', '/v1/auth/signup', null, { email: 'a@example.com', password: 'short', namespace: 'fine' }), 422, 'validation_failed')
    expect(short.errors?.map((e) => e.field)).toEqual(['password'])
    const address = await expectProblem(await signupCall('not-an-address', 'fine'), 422, 'validation_failed')
    expect(address.errors?.map((e) => e.field)).toEqual(['email'])
    await expectProblem(await gw.call('POST', '/v1/auth/signup', null, '{"email": '), 400, 'malformed_json')
  })

  test('signup off (the default): 403 signup_disabled for signup, verify and resend', async () => {
    const off = await startTestGateway({ mail: mailOf(sink.port) })
    try {
      await expectProblem(await off.call('POST', '/v1/auth/signup', null, { email: 'a@example.com', password: PASSWORD, namespace: 'a' }), 403, 'signup_disabled')
      await expectProblem(await off.call('POST', '/v1/auth/verify', null, { token: 'x'.repeat(43) }), 403, 'signup_disabled')
      await expectProblem(await off.call('POST', '/v1/auth/verify/resend', null, { email: 'a@example.com' }), 403, 'signup_disabled')
    } finally {
      await off.close()
    }
  })

  test('signup on without [mail]: 503 mail_not_configured', async () => {
    const mute = await startTestGateway({ signup: { enabled: true } })
    try {
      await expectProblem(await mute.call('POST', '/v1/auth/signup', null, { email: 'a@example.com', password: PASSWORD, namespace: 'a' }), 503, 'mail_not_configured')
    } finally {
      await mute.close()
    }
  })

  test('invite_only: an address without an invitation is told so by mail, one with an invitation gets its link', async () => {
    const closed = await startTestGateway({ signup: { enabled: true, invite_only: true }, mail: mailOf(sink.port), limits: { login_attempts_per_minute: 1000 } })
    try {
      const host = await closed.tenant('host')
      await createInvitation(closed.deps, host.namespaceId, { email: 'invited@example.com', role: 'viewer' }, { role: 'owner', instanceAdmin: false })
      const before = sink.received.length
      const stranger = await closed.call('POST', '/v1/auth/signup', null, { email: 'stranger@example.com', password: PASSWORD, namespace: 'strange' })
      const invited = await closed.call('POST', '/v1/auth/signup', null, { email: 'invited@example.com', password: PASSWORD, namespace: 'welcome' })
      expect([stranger.status, invited.status]).toEqual([202, 202])
      expect(await stranger.json()).toEqual(await invited.json())
      expect((await nextMail('stranger@example.com', before)).subject).toBe('omnigate signup is by invitation')
      expect((await nextMail('invited@example.com', before)).text).toContain('/portal/verify?token=')
    } finally {
      await closed.close()
    }
  })
})

describe('rate limits', () => {
  test('resend: one mail per address a minute (429 with Retry-After); a minute later a new link replaces the old', async () => {
    nextMinute()
    const before = sink.received.length
    expect((await signupCall('again@example.com', 'again')).status).toBe(202)
    const first = linkIn((await nextMail('again@example.com', before)).text)
    const limited = await gw.call('POST', '/v1/auth/verify/resend', null, { email: 'again@example.com' })
    await expectProblem(limited, 429, 'too_many_attempts')
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)

    nextMinute()
    const mid = sink.received.length
    const resent = await gw.call('POST', '/v1/auth/verify/resend', null, { email: 'again@example.com' })
    expect(resent.status).toBe(202)
    const second = linkIn((await nextMail('again@example.com', mid)).text)
    expect(second.token).not.toBe(first.token)
    await expectProblem(await gw.call('POST', '/v1/auth/verify', null, { token: first.token }), 400, 'invalid_token')
    expect((await gw.call('POST', '/v1/auth/verify', null, { token: second.token })).status).toBe(200)

    // Resending for an address with nothing waiting answers the same, and mails nothing.
    nextMinute()
    const quiet = sink.received.length
    expect((await gw.call('POST', '/v1/auth/verify/resend', null, { email: 'nobody@example.com' })).status).toBe(202)
    expect((await gw.call('POST', '/v1/auth/verify/resend', null, { email: 'again@example.com' })).status).toBe(202)
    await Bun.sleep(200)
    expect(sink.received.slice(quiet).filter((m) => m.rcptTo.some((r) => r === 'nobody@example.com' || r === 'again@example.com'))).toHaveLength(0)
    restoreClock()
  })

  test("verification: the mailed link's page is limited per client address too, sharing the count with the API", async () => {
    const tight = await startTestGateway({ signup: { enabled: true }, mail: mailOf(sink.port), limits: { login_attempts_per_minute: 2 } })
    try {
      const page = () =>
        tight.app.request('/portal/verify', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=not-a-real-token' })
      expect((await page()).status).toBe(400)
      expect((await tight.call('POST', '/v1/auth/verify', null, { token: 'not-a-real-token' })).status).toBe(400)
      const third = await page()
      expect(third.status).toBe(429)
      expect(third.headers.get('retry-after')).toMatch(/^\d+$/)
      expect(third.headers.get('content-type')).toStartWith('text/html')
      expect(await third.text()).toContain('Too many attempts')
      await expectProblem(await tight.call('POST', '/v1/auth/verify', null, { token: 'not-a-real-token' }), 429, 'too_many_attempts')
    } finally {
      await tight.close()
    }
  })

  test('signup: per client address, at the login rate', async () => {
    const tight = await startTestGateway({ signup: { enabled: true }, mail: mailOf(sink.port), limits: { login_attempts_per_minute: 2 } })
    try {
      const attempt = (n: number) => tight.call('POST', '/v1/auth/signup', null, { email: `n${n}@example.com`, password: PASSWORD, namespace: `n${n}` })
      expect((await attempt(1)).status).toBe(202)
      expect((await attempt(2)).status).toBe(202)
      const third = await attempt(3)
      await expectProblem(third, 429, 'too_many_attempts')
      expect(third.headers.get('retry-after')).not.toBeNull()
      // Nothing was made for the refused one.
      const [user] = await tight.deps.store.read.select().from(users).where(and(eq(users.email, 'n3@example.com')))
      expect(user).toBeUndefined()
    } finally {
      await tight.close()
    }
  })
})
