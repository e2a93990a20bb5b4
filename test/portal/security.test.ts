/**
 * The portal's security over plain HTTP (issue #9): CSRF tokens on every state-changing form,
 * the session cookie's flags, the security headers on every page, cached assets, and the
 * portal switched off.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { sendMessage } from '../../src/domain/messages/send'
import { createWebhook } from '../../src/domain/webhooks/endpoints'
import { createTerminal } from '../../src/domain/channels/terminals'
import { createInstanceAdmin, setPasswordHashCost } from '../../src/domain/identity/users'
import { createPortal } from '../../src/portal/app'
import { assetUrls } from '../../src/portal/assets'
import { openLiveStreams } from '../../src/portal/pages/message-detail'
import { silentLogger } from '../../src/lib/log'
import { messages } from '../../src/store/schema'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'
import { expectProblem } from '../helpers/problems'

// Cheap argon2 in tests: the cost is not what is under test.
setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })
const PASSWORD = 'correct horse battery staple'

const gw = await startTestGateway()
afterAll(() => gw.close())
const acme = await gw.tenant('acme')
await gw.channel(acme.namespaceId, 'sandbox')
await createInstanceAdmin(gw.deps, { email: 'ops@example.com', password: PASSWORD })
const origin = new URL(gw.deps.publicUrl).origin

const cookieOf = (res: Response, name: string) => res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`))
const valueOf = (setCookie: string | undefined) => setCookie?.split(';')[0]
const tokenIn = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? /name="csrf-token" content="([^"]+)"/.exec(html)![1]!
const form = (fields: Record<string, string>) => ({ 'content-type': 'application/x-www-form-urlencoded', body: new URLSearchParams(fields).toString() })

/** Signs in through the portal's form: the session cookie and the CSRF token of its pages. */
async function signIn(g: TestGateway, email = 'ops@example.com') {
  const o = new URL(g.deps.publicUrl).origin
  const page = await g.app.request('/portal/login')
  const anon = valueOf(cookieOf(page, 'og_portal_csrf'))!
  const { body, ...headers } = form({ _csrf: tokenIn(await page.text()), email, password: PASSWORD })
  const res = await g.app.request('/portal/login', { method: 'POST', headers: { ...headers, cookie: anon, origin: o }, body })
  expect(res.status).toBe(303)
  const setCookie = cookieOf(res, 'og_session')!
  const cookie = valueOf(setCookie)!
  const token = tokenIn(await (await g.app.request('/portal/account', { headers: { cookie } })).text())
  return { cookie, token, setCookie }
}

const session = await signIn(gw)
const scheduled = async () =>
  ((await sendMessage(gw.deps, acme.namespaceId, { channel: 'sandbox', to: 'a@example.com', content: { text: 'hi' }, send_at: new Date(Date.now() + 3_600_000).toISOString() })).body as { id: string }).id
const statusOf = async (id: string) => (await gw.deps.store.read.select({ status: messages.status }).from(messages).where(eq(messages.id, id)))[0]?.status

describe('CSRF', () => {
  test('a form post without the token, with a wrong one, or from another origin is refused and changes nothing', async () => {
    const id = await scheduled()
    const cancel = (fields: Record<string, string>, headers: Record<string, string> = { origin }) => {
      const { body, ...type } = form(fields)
      return gw.app.request(`/portal/ns/acme/messages/${id}/cancel`, { method: 'POST', headers: { ...type, cookie: session.cookie, ...headers }, body })
    }
    for (const res of [await cancel({}), await cancel({ _csrf: 'forged' }), await cancel({ _csrf: `${session.token}x` })]) {
      expect(res.status).toBe(403)
      expect(await res.text()).toContain('out of date')
    }
    expect((await cancel({ _csrf: session.token }, { origin: 'https://evil.example' })).status).toBe(403)
    expect((await cancel({ _csrf: session.token }, { 'sec-fetch-site': 'cross-site' })).status).toBe(403)
    expect((await cancel({ _csrf: session.token }, {})).status).toBe(403)
    expect(await statusOf(id)).toBe('scheduled')
    // The page's own token, from the page's origin: accepted (also as htmx's header).
    const ok = await cancel({ _csrf: session.token })
    expect(ok.status).toBe(303)
    expect(await statusOf(id)).toBe('cancelled')
  })

  test('the token also works as the X-CSRF-Token header (htmx requests)', async () => {
    const id = await scheduled()
    const res = await gw.app.request(`/portal/ns/acme/messages/${id}/cancel`, { method: 'POST', headers: { cookie: session.cookie, origin, 'x-csrf-token': session.token } })
    expect(res.status).toBe(303)
    expect(await statusOf(id)).toBe('cancelled')
  })

  test('the token is bound to the session: another session\'s token is refused', async () => {
    const other = await signIn(gw)
    expect(other.token).not.toBe(session.token)
    const id = await scheduled()
    const { body, ...type } = form({ _csrf: other.token })
    const res = await gw.app.request(`/portal/ns/acme/messages/${id}/cancel`, { method: 'POST', headers: { ...type, cookie: session.cookie, origin }, body })
    expect(res.status).toBe(403)
    expect(await statusOf(id)).toBe('scheduled')
  })

  test('the sign-in form needs its token too, and then sets no cookie', async () => {
    const { body, ...type } = form({ email: 'ops@example.com', password: PASSWORD })
    const res = await gw.app.request('/portal/login', { method: 'POST', headers: { ...type, origin }, body })
    expect(res.status).toBe(403)
    expect(cookieOf(res, 'og_session')).toBeUndefined()
  })
})

describe('the session cookie', () => {
  test('is httpOnly, SameSite=Strict and path /, without Secure over http', () => {
    expect(session.setCookie).toContain('HttpOnly')
    expect(session.setCookie).toContain('SameSite=Strict')
    expect(session.setCookie).toContain('Path=/')
    expect(session.setCookie).not.toContain('Secure')
  })

  test('is Secure when public_url is https', async () => {
    const https = await startTestGateway({ server: { public_url: 'https://gw.example.com' } })
    try {
      await createInstanceAdmin(https.deps, { email: 'ops@example.com', password: PASSWORD })
      const { setCookie } = await signIn(https)
      expect(setCookie).toContain('Secure')
      expect(setCookie).toContain('HttpOnly')
      expect(setCookie).toContain('SameSite=Strict')
    } finally {
      await https.close()
    }
  })

  test('is the API\'s session: signing out of the portal ends it for /v1 too', async () => {
    const mine = await signIn(gw)
    expect((await gw.app.request('/v1/auth/me', { headers: { cookie: mine.cookie } })).status).toBe(200)
    const { body, ...type } = form({ _csrf: mine.token })
    const out = await gw.app.request('/portal/logout', { method: 'POST', headers: { ...type, cookie: mine.cookie, origin }, body })
    expect(out.status).toBe(303)
    expect(out.headers.get('location')).toBe('/portal/login?notice=signed-out')
    expect(cookieOf(out, 'og_session')).toContain('Max-Age=0')
    await expectProblem(await gw.app.request('/v1/auth/me', { headers: { cookie: mine.cookie } }), 401, 'unauthorized')
    // And the portal sends the old cookie to the sign-in page.
    const after = await gw.app.request('/portal/ns/acme/dashboard', { headers: { cookie: mine.cookie } })
    expect(after.status).toBe(303)
    expect(after.headers.get('location')).toBe('/portal/login?next=%2Fportal%2Fns%2Facme%2Fdashboard')
  })
})

describe('pages', () => {
  // Every route of the portal, with its parameters filled in, answered with its own status.
  const portal = createPortal(gw.deps, { log: silentLogger })
  const routes = [...new Set(portal.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path}`))]

  test('the portal has the routes this test walks', () => {
    expect(routes).toContain('GET /portal/login')
    expect(routes).toContain('POST /portal/ns/:ns/messages/:id/cancel')
    expect(routes.length).toBeGreaterThan(15)
  })

  test('every portal response carries the CSP, frame, sniffing and referrer headers', async () => {
    const id = await scheduled()
    const asset = assetUrls()[0]!.split('/').at(-1)!
    const fill = (path: string) => path.replace(':ns', 'acme').replace(':id', id).replace(':file', asset)
    const paths: [string, string][] = [...routes.map((r) => r.split(' ') as [string, string]), ['GET', '/portal/nowhere'], ['GET', '/portal/ns/nowhere/dashboard'], ['GET', '/portal/assets/missing.css']]
    for (const [method, path] of paths) {
      for (const cookie of [session.cookie, '']) {
        const res = await gw.app.request(fill(path), { method, headers: cookie ? { cookie } : {} })
        const where = `${method} ${path} (${cookie ? 'signed in' : 'anonymous'}) → ${res.status}`
        expect(res.status, where).toBeLessThan(500)
        const csp = res.headers.get('content-security-policy') ?? ''
        expect(csp, where).toContain("default-src 'self'")
        expect(csp, where).toContain("script-src 'self'")
        expect(csp, where).toContain("frame-ancestors 'none'")
        expect(csp, where).not.toContain('unsafe-inline')
        expect(res.headers.get('x-frame-options'), where).toBe('DENY')
        expect(res.headers.get('x-content-type-options'), where).toBe('nosniff')
        expect(res.headers.get('referrer-policy'), where).toBe('same-origin')
        await res.body?.cancel()
      }
    }
  })

  test('pages have no inline script or event handler', async () => {
    for (const path of ['/portal/login', '/portal/ns/acme/dashboard', '/portal/ns/acme/messages', '/portal/ns/acme/messages/new', '/portal/account']) {
      const html = await (await gw.app.request(path, { headers: { cookie: session.cookie } })).text()
      expect(html, path).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
      expect(html, path).not.toMatch(/\son[a-z]+=/)
      expect(html, path).not.toMatch(/\sstyle=/)
    }
  })

  test('an anonymous visitor is sent to sign in, and back only within the portal', async () => {
    const res = await gw.app.request('/portal/ns/acme/messages?status=failed')
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('/portal/login?next=%2Fportal%2Fns%2Facme%2Fmessages%3Fstatus%3Dfailed')
    const page = await gw.app.request('/portal/login')
    const anon = valueOf(cookieOf(page, 'og_portal_csrf'))!
    const { body, ...type } = form({ _csrf: tokenIn(await page.text()), email: 'ops@example.com', password: PASSWORD })
    const login = await gw.app.request(`/portal/login?next=${encodeURIComponent('//evil.example/portal')}`, { method: 'POST', headers: { ...type, cookie: anon, origin }, body })
    expect(login.headers.get('location')).toBe('/portal')
  })

  test('/ and /portal lead to the first namespace', async () => {
    expect((await gw.app.request('/')).headers.get('location')).toBe('/portal')
    const res = await gw.app.request('/portal', { headers: { cookie: session.cookie } })
    expect(res.headers.get('location')).toBe('/portal/ns/acme/dashboard')
  })
})

describe('robustness', () => {
  test('every page has no inline script, style or handler; no route answers 500 to a malformed body, bytes that are not UTF-8, or keys like __proto__', async () => {
    // A gateway of its own: the walk posts to every route with real ids.
    const g = await startTestGateway()
    try {
      const ns = await g.tenant('acme')
      const channelId = await g.channel(ns.namespaceId, 'sandbox')
      await createInstanceAdmin(g.deps, { email: 'ops@example.com', password: PASSWORD })
      const { cookie, token } = await signIn(g)
      const messageId = ((await sendMessage(g.deps, ns.namespaceId, { channel: 'sandbox', to: 'a@example.com', content: { text: 'hi' }, send_at: new Date(Date.now() + 3_600_000).toISOString() })).body as { id: string }).id
      const hook = await createWebhook(g.deps, ns.namespaceId, { url: 'http://127.0.0.1:9/hook' })
      const terminal = await createTerminal(g.deps, ns.namespaceId, channelId, { address: 'bot-1' })
      const fill = (path: string) =>
        path
          .replace(':ns', path.startsWith('/portal/admin') ? 'nowhere' : 'acme')
          .replace(':id', path.includes('/webhooks/') ? hook.webhook.id : messageId)
          .replace(':channel', channelId)
          .replace(':app', ns.applicationId)
          .replace(':terminal', terminal.id)
          .replace(':file', assetUrls()[0]!.split('/').at(-1)!)
      const all = [...new Set(createPortal(g.deps, { log: silentLogger }).routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path}`))]
      const o = new URL(g.deps.publicUrl).origin
      const hostile = 'notice=constructor&range=constructor&status=__proto__&type=__proto__&cursor=%FF%FE&since=%FF&email=%00&token=%FF&next=%FF'
      const bodies: [string, string | Uint8Array][] = [
        ['multipart/form-data; boundary=zzz', 'not --zzz\r\na multipart body'],
        ['application/x-www-form-urlencoded', new Uint8Array([...new TextEncoder().encode('__proto__=x&constructor=y&type=__proto__&role=toString&name=\xff&'), 0xff, 0xfe, 0x3d, 0x25, 0x46])],
      ]
      for (const route of all) {
        const [method, path] = route.split(' ') as [string, string]
        const url = fill(path)
        if (method === 'GET') {
          // The live stream of a scheduled message stays open (tested above).
          if (path.endsWith('/events')) continue
          // The page itself: no inline script, style or event handler (the CSP would block them).
          const page = await g.app.request(url, { headers: { cookie } })
          const clean = page.headers.get('content-type')?.startsWith('text/html') ? await page.text() : ''
          expect(page.status, `${route} → ${page.status}`).toBeLessThan(500)
          expect(clean, route).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
          expect(clean, route).not.toMatch(/<[^>]+\son[a-z]+=/)
          expect(clean, route).not.toMatch(/<[^>]+\sstyle=/)
          const res = await g.app.request(`${url}?${hostile}`, { headers: { cookie } })
          const html = await res.text()
          expect(res.status, `${route} → ${res.status}`).toBeLessThan(500)
          expect(html, route).not.toContain('native code')
          expect(html, route).not.toMatch(/class="notice" role="status"><\/p>/)
          continue
        }
        // Signing out, deleting and removing read no body; they would only take the fixtures away.
        if (/\/(logout|delete|remove|revoke)$/.test(path)) continue
        for (const [type, body] of bodies) {
          const res = await g.app.request(`${url}?${hostile}`, { method, headers: { cookie, origin: o, 'x-csrf-token': token, 'content-type': type }, body })
          expect(res.status, `${route} (${type.split(';')[0]}) → ${res.status}`).toBeLessThan(500)
          await res.body?.cancel()
        }
      }
    } finally {
      await g.close()
    }
  }, 30_000)
})

describe('assets', () => {
  test('are served under content-hashed names with a year-long immutable cache', async () => {
    const urls = assetUrls()
    expect(urls.length).toBe(5)
    for (const url of urls) {
      expect(url).toMatch(/^\/portal\/assets\/[a-z]+\.[0-9a-f]{12}\.(js|css)$/)
      const res = await gw.app.request(url)
      expect(res.status, url).toBe(200)
      expect(res.headers.get('cache-control'), url).toBe('public, max-age=31536000, immutable')
      expect(res.headers.get('content-type'), url).toStartWith(url.endsWith('.js') ? 'text/javascript' : 'text/css')
      expect((await res.arrayBuffer()).byteLength, url).toBeGreaterThan(100)
      const etag = res.headers.get('etag')!
      expect((await gw.app.request(url, { headers: { 'if-none-match': etag } })).status).toBe(304)
    }
    const stale = urls[0]!.replace(/\.[0-9a-f]{12}\./, '.000000000000.')
    expect((await gw.app.request(stale)).status).toBe(404)
  })
})

describe('live updates', () => {
  test('the event stream sends the current state, then a heartbeat comment while nothing changes', async () => {
    const live = await startTestGateway({}, { listen: true })
    try {
      const ns = await live.tenant('acme')
      await live.channel(ns.namespaceId, 'sandbox')
      await createInstanceAdmin(live.deps, { email: 'ops@example.com', password: PASSWORD })
      const { cookie } = await signIn(live)
      const id = ((await sendMessage(live.deps, ns.namespaceId, { channel: 'sandbox', to: 'a@example.com', content: { text: 'hi' }, send_at: new Date(Date.now() + 3_600_000).toISOString() })).body as { id: string }).id
      const res = await fetch(`${live.url}/portal/ns/acme/messages/${id}/events`, { headers: { cookie } })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toStartWith('text/event-stream')
      expect(res.headers.get('content-security-policy')).toContain("default-src 'self'")
      const reader = res.body!.getReader()
      let text = ''
      while (!text.includes(': heartbeat')) {
        const { value, done } = await reader.read()
        if (done) break
        text += new TextDecoder().decode(value)
      }
      await reader.cancel()
      expect(text).toContain('event: update')
      expect(text).toContain('status-scheduled')
      expect(text.indexOf('event: update')).toBeLessThan(text.indexOf(': heartbeat'))
      // Another namespace's message, or none: a 404 before any stream opens.
      expect((await fetch(`${live.url}/portal/ns/acme/messages/msg_nope/events`, { headers: { cookie } })).status).toBe(404)
    } finally {
      await live.close()
    }
  }, 20_000)

  test('a stream whose browser goes away ends, and a HEAD request opens none (no loop or timer left polling)', async () => {
    const live = await startTestGateway({}, { listen: true })
    try {
      const ns = await live.tenant('acme')
      await live.channel(ns.namespaceId, 'sandbox')
      await createInstanceAdmin(live.deps, { email: 'ops@example.com', password: PASSWORD })
      const { cookie } = await signIn(live)
      const id = ((await sendMessage(live.deps, ns.namespaceId, { channel: 'sandbox', to: 'a@example.com', content: { text: 'hi' }, send_at: new Date(Date.now() + 3_600_000).toISOString() })).body as { id: string }).id
      const tabs = [new AbortController(), new AbortController()]
      for (const tab of tabs) {
        const res = await fetch(`${live.url}/portal/ns/acme/messages/${id}/events`, { headers: { cookie }, signal: tab.signal })
        const reader = res.body!.getReader()
        let text = ''
        while (!text.includes('event: update')) text += new TextDecoder().decode((await reader.read()).value)
      }
      expect(openLiveStreams(live.deps)).toBe(2)
      tabs[0]!.abort()
      await eventually(async () => openLiveStreams(live.deps) === 1)
      tabs[1]!.abort()
      await eventually(async () => openLiveStreams(live.deps) === 0)
      // A HEAD request has no body anyone reads: it opens no stream at all.
      const head = await fetch(`${live.url}/portal/ns/acme/messages/${id}/events`, { method: 'HEAD', headers: { cookie } })
      expect(head.status).toBe(200)
      expect(head.headers.get('content-type')).toStartWith('text/event-stream')
      expect(openLiveStreams(live.deps)).toBe(0)
    } finally {
      await live.close()
    }
  }, 20_000)
})

test('with [portal] enabled = false there is no portal and / is not redirected', async () => {
  const off = await startTestGateway({ portal: { enabled: false } })
  try {
    await expectProblem(await off.app.request('/portal/login'), 404, 'not_found')
    await expectProblem(await off.app.request('/'), 404, 'not_found')
  } finally {
    await off.close()
  }
})
