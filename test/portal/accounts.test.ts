/**
 * The portal's account pages over HTTP, with mail through a real SMTP server: password reset by
 * e-mail, accepting an invitation, changing the password (errors next to their fields), and
 * where a user lands after signing in.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { simpleParser } from 'mailparser'
import { createInvitation } from '../../src/domain/identity/invitations'
import { insertMembership } from '../../src/domain/identity/members'
import { hashPassword, insertUser, setPasswordHashCost } from '../../src/domain/identity/users'
import { startSmtpSink } from '../fakes/smtp-server'
import { eventually, startTestGateway } from '../helpers/gateway'
import { fieldError, PORTAL_PASSWORD as PASSWORD, portalClient } from './portal-client'

// Cheap argon2 in tests: the cost is not what is under test.
setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })

const sink = await startSmtpSink()
const gw = await startTestGateway({ mail: { smtp_url: `smtp://127.0.0.1:${sink.port}`, from: 'omnigate <noreply@gw.test>' }, limits: { login_attempts_per_minute: 1000 } })
afterAll(async () => {
  await gw.close()
  await sink.stop()
})
const acme = await gw.tenant('acme')
const beta = await gw.tenant('beta')
const origin = new URL(gw.deps.publicUrl).origin

async function person(email: string, memberOf: { namespaceId: string; role: 'viewer' | 'developer' | 'admin' | 'owner' }[] = []) {
  const passwordHash = await hashPassword(PASSWORD)
  return gw.deps.store.tx(async (tx) => {
    const user = await insertUser(tx, { email, passwordHash, verified: true }, Date.now())
    for (const m of memberOf) await insertMembership(tx, m.namespaceId, user.id, m.role, Date.now())
    return user
  })
}

/** A cookie jar that posts forms with the CSRF token of the last page it read (test/portal/portal-client.ts). */
const browserlessClient = () => portalClient(gw)


async function mailTo(email: string, after: number) {
  const wire = await eventually(async () => sink.received.slice(after).find((m) => m.rcptTo.includes(email)))
  return (await simpleParser(wire.raw)).text ?? ''
}

describe('signing in', () => {
  test('a member lands in their first namespace; someone without one is told so', async () => {
    await person('dev@example.com', [{ namespaceId: beta.namespaceId, role: 'developer' }])
    const dev = browserlessClient()
    const { res } = await dev.signIn('dev@example.com')
    expect(res.status).toBe(303)
    expect((await dev.get('/portal')).res.headers.get('location')).toBe('/portal/ns/beta/dashboard')
    const page = await dev.get('/portal/ns/beta/dashboard')
    expect(page.html).toContain('beta (developer)')
    // Not a member of acme: the same 404 as for a namespace that does not exist.
    expect((await dev.get('/portal/ns/acme/dashboard')).res.status).toBe(404)

    await person('loner@example.com')
    const loner = browserlessClient()
    await loner.signIn('loner@example.com')
    const home = await loner.get('/portal')
    expect(home.res.status).toBe(200)
    expect(home.html).toContain('No namespace yet')
  })

  test('a wrong password says so above the form and keeps the email', async () => {
    await person('typo@example.com')
    const client = browserlessClient()
    await client.get('/portal/login')
    const { res, html } = await client.post('/portal/login', { email: 'typo@example.com', password: 'not the right one' })
    expect(res.status).toBe(401)
    expect(html).toContain('class="form-message"')
    expect(html).toContain('value="typo@example.com"')
    expect(html).not.toContain('not the right one')
  })

  test("an address or password longer than the API takes is named next to its field", async () => {
    const client = browserlessClient()
    await client.get('/portal/login')
    const long = await client.post('/portal/login', { email: `${'a'.repeat(250)}@example.com`, password: 'p'.repeat(1025) })
    expect(long.res.status).toBe(422)
    expect(fieldError(long.html, 'email')).toBe('must be at most 254 characters')
    expect(fieldError(long.html, 'password')).toBe('must be at most 1024 characters')
    await client.get('/portal/reset')
    const reset = await client.post('/portal/reset', { email: `${'a'.repeat(250)}@example.com` })
    expect(reset.res.status).toBe(422)
    expect(fieldError(reset.html, 'email')).toBe('must be at most 254 characters')
  })
})

describe('password', () => {
  test('changing it names the bad field, then works and keeps this session', async () => {
    await person('kim@example.com', [{ namespaceId: acme.namespaceId, role: 'viewer' }])
    const kim = browserlessClient()
    await kim.signIn('kim@example.com')
    await kim.get('/portal/account')
    let page = await kim.post('/portal/account/password', { current_password: PASSWORD, new_password: 'a brand new password', repeat_password: 'something else' })
    expect(page.res.status).toBe(422)
    expect(fieldError(page.html, 'repeat_password')).toBe('does not match the new password')
    page = await kim.post('/portal/account/password', { current_password: 'wrong wrong wrong', new_password: 'a brand new password', repeat_password: 'a brand new password' })
    expect(page.res.status).toBe(422)
    expect(fieldError(page.html, 'current_password')).toBe('is not the current password')
    page = await kim.post('/portal/account/password', { current_password: PASSWORD, new_password: 'short', repeat_password: 'short' })
    expect(fieldError(page.html, 'new_password')).toContain('at least 12')
    page = await kim.post('/portal/account/password', { current_password: PASSWORD, new_password: 'a brand new password', repeat_password: 'a brand new password' })
    expect(page.res.status).toBe(303)
    expect((await kim.get('/portal/ns/acme/dashboard')).res.status).toBe(200)
    expect((await browserlessClient().signIn('kim@example.com', 'a brand new password')).res.status).toBe(303)
  })

  test('a reset link by mail sets a new password once', async () => {
    await person('liz@example.com')
    const before = sink.received.length
    const liz = browserlessClient()
    await liz.get('/portal/reset')
    const asked = await liz.post('/portal/reset', { email: 'liz@example.com' })
    expect(asked.res.status).toBe(200)
    expect(asked.html).toContain('Check your mail')
    const link = /(\S+)\/portal\/reset\?token=([\w-]+)/.exec(await mailTo('liz@example.com', before))!
    expect(link[1]).toBe(gw.deps.publicUrl)
    const form = await liz.get(`/portal/reset?token=${link[2]}`)
    expect(form.html).toContain('Choose a new password')
    const weak = await liz.post('/portal/reset/confirm', { token: link[2]!, password: 'short', repeat_password: 'short' })
    expect(weak.res.status).toBe(422)
    expect(fieldError(weak.html, 'password')).toContain('at least 12')
    const set = await liz.post('/portal/reset/confirm', { token: link[2]!, password: 'reset to something long', repeat_password: 'reset to something long' })
    expect(set.res.status).toBe(303)
    expect(set.res.headers.get('location')).toBe('/portal/login?notice=password-set')
    expect((await browserlessClient().signIn('liz@example.com', 'reset to something long')).res.status).toBe(303)
    const again = await liz.post('/portal/reset/confirm', { token: link[2]!, password: 'and once more please', repeat_password: 'and once more please' })
    expect(again.res.status).toBe(400)
    expect(again.html).toContain('invalid, expired or already used')
  })

  test('an empty address is named next to its field', async () => {
    const client = browserlessClient()
    await client.get('/portal/reset')
    const page = await client.post('/portal/reset', { email: '' })
    expect(page.res.status).toBe(422)
    expect(fieldError(page.html, 'email')).toBe('is required')
  })
})

describe('invitations', () => {
  test('a new address accepts with a password, becomes a member and can sign in', async () => {
    const before = sink.received.length
    await createInvitation(gw.deps, acme.namespaceId, { email: 'new@example.com', role: 'developer' }, { role: 'owner', instanceAdmin: false })
    const token = /\/portal\/invite\?token=([\w-]+)/.exec(await mailTo('new@example.com', before))![1]!
    const guest = browserlessClient()
    const form = await guest.get(`/portal/invite?token=${token}`)
    expect(form.html).toContain('Accept the invitation')
    const missing = await guest.post('/portal/invite', { token, display_name: 'Nova', password: '' })
    expect(missing.res.status).toBe(422)
    expect(fieldError(missing.html, 'password')).toContain('required')
    expect(missing.html).toContain('value="Nova"')
    const ok = await guest.post('/portal/invite', { token, display_name: 'Nova', password: 'a long new password' })
    expect(ok.res.status).toBe(200)
    expect(ok.html).toContain('as developer')
    const nova = browserlessClient()
    await nova.signIn('new@example.com', 'a long new password')
    expect((await nova.get('/portal')).res.headers.get('location')).toBe('/portal/ns/acme/dashboard')
    // The link worked once.
    expect((await guest.post('/portal/invite', { token, password: 'a long new password' })).res.status).toBe(400)
  })

  test('someone signed in who follows the mailed link accepts at the first try', async () => {
    // The browser sends no cookie with a page opened from a mail (SameSite=Strict): the form gets
    // a pre-session token, and its POST (from the portal itself) carries the session cookie too.
    await person('signed-in@example.com', [{ namespaceId: beta.namespaceId, role: 'viewer' }])
    const cookieOf = (res: Response, name: string) => res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`))?.split(';')[0]
    const login = await gw.app.request('/portal/login')
    const anonLogin = cookieOf(login, 'og_portal_csrf')!
    const signedIn = await gw.app.request('/portal/login', {
      method: 'POST',
      headers: { origin, cookie: anonLogin, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: /name="_csrf" value="([^"]+)"/.exec(await login.text())![1]!, email: 'signed-in@example.com', password: PASSWORD }),
    })
    const sessionCookie = cookieOf(signedIn, 'og_session')!
    const before = sink.received.length
    await createInvitation(gw.deps, acme.namespaceId, { email: 'signed-in@example.com', role: 'developer' }, { role: 'owner', instanceAdmin: false })
    const token = /\/portal\/invite\?token=([\w-]+)/.exec(await mailTo('signed-in@example.com', before))![1]!
    const page = await gw.app.request(`/portal/invite?token=${token}`)
    const anon = cookieOf(page, 'og_portal_csrf')!
    const formToken = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!
    const accepted = await gw.app.request('/portal/invite', {
      method: 'POST',
      headers: { origin, cookie: `${sessionCookie}; ${anon}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: formToken, token }),
    })
    expect(accepted.status).toBe(200)
    expect(await accepted.text()).toContain('as developer')
    // The pre-session token opens only the forms a visitor without a session uses.
    const password = await gw.app.request('/portal/account/password', {
      method: 'POST',
      headers: { origin, cookie: `${sessionCookie}; ${anon}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: formToken, current_password: PASSWORD, new_password: 'another long password', repeat_password: 'another long password' }),
    })
    expect(password.status).toBe(403)
  })
})
