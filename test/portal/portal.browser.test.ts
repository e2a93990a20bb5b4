/**
 * The portal in a real Chromium (issue #9): signing in, sending a test message and watching it
 * reach `delivered` live, what a viewer can and cannot do, another namespace's id, and field
 * errors. Every page visited must run without a console error (a CSP violation shows there).
 */
import { afterAll, expect } from 'bun:test'
import { eq } from 'drizzle-orm'
import { sendMessage } from '../../src/domain/messages/send'
import { messages } from '../../src/store/schema'
import { startTestGateway } from '../helpers/gateway'
import { browserTest, makeMember, makeUser, signIn } from './browser'

const gw = await startTestGateway({}, { listen: true })
afterAll(() => gw.close())
const url = gw.url!
const demo = await gw.tenant('demo')
await gw.channel(demo.namespaceId, 'sandbox')
const other = await gw.tenant('other')
await gw.channel(other.namespaceId, 'sandbox')
// The sandbox's delay below must fit in a send timeout.
await gw.startEngine({ send_timeout_ms: 10_000, lease_ms: 20_000 })
const admin = await makeUser(gw.deps, 'ops@example.com')
const viewer = await makeMember(gw.deps, demo.namespaceId, 'viewer@example.com', 'viewer')

const send = async (namespaceId: string, extra: Record<string, unknown> = {}) =>
  ((await sendMessage(gw.deps, namespaceId, { channel: 'sandbox', to: 'ada@example.com', content: { text: 'hello' }, ...extra })).body as { id: string }).id
const statusOf = async (id: string) => (await gw.deps.store.read.select({ status: messages.status }).from(messages).where(eq(messages.id, id)))[0]?.status
const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString()
const inAMonth = () => new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10)
/** A wall clock in New York (`2026-01-02T10:04`) for an instant. */
const newYorkWall = (ms: number) =>
  new Intl.DateTimeFormat('sv-SE', { timeZone: 'America/New_York', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(ms).replace(' ', 'T')
/** The instant of a New York wall clock, by the offset Intl gives that day (GMT-4 in summer, GMT-5 in winter). */
function newYorkToUtc(wall: string): string {
  const asUtc = Date.parse(`${wall}:00Z`)
  const zone = new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', timeZoneName: 'shortOffset' }).formatToParts(asUtc).find((p) => p.type === 'timeZoneName')!.value
  return new Date(asUtc - Number(zone.replace('GMT', '')) * 3_600_000).toISOString()
}

browserTest('an instance admin signs in, lands in demo and sees the navigation', async ({ page, consoleErrors }) => {
  await signIn(page, url, admin.email, admin.password)
  expect(new URL(page.url()).pathname).toBe('/portal/ns/demo/dashboard')
  for (const name of ['Dashboard', 'Messages', 'Channels', 'Webhooks', 'Applications', 'Members']) {
    await expect(page.getByRole('link', { name, exact: true }).count()).resolves.toBe(1)
  }
  await expect(page.getByRole('heading', { name: 'Dashboard' }).count()).resolves.toBe(1)
  // The switcher lists every namespace for an instance admin, and changes it.
  await page.getByLabel('Namespace').selectOption('other')
  await page.getByRole('button', { name: 'Switch' }).click()
  await page.waitForURL(`${url}/portal/ns/other/dashboard`)
  expect(consoleErrors).toEqual([] as string[])
})

browserTest('a wrong password is refused on the sign-in page', async ({ page }) => {
  await page.goto(`${url}/portal/login`)
  await page.getByLabel('Email').fill(admin.email)
  await page.getByLabel('Password').fill('not the password at all')
  // Wait for the answer itself, so a slow one fails here, naming its status, not as a missing element.
  const [answer] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/portal/login'),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ])
  expect(answer.status()).toBe(401)
  await page.locator('.form-message').waitFor()
  await expect(page.locator('.form-message').textContent()).resolves.toContain('wrong')
  expect(new URL(page.url()).pathname).toBe('/portal/login')
})

browserTest('a test message sent from the form reaches delivered live on its page', async ({ page, consoleErrors }) => {
  await signIn(page, url, admin.email, admin.password)
  await page.getByRole('link', { name: 'Messages', exact: true }).click()
  await page.getByRole('link', { name: 'Send a test message' }).first().click()
  await page.getByLabel('To').fill('grace@example.com')
  await page.getByLabel('Text', { exact: true }).fill('Hello from the portal')
  // The sandbox answers after 4 s (room for a loaded machine): the page is open before the message is delivered.
  await page.getByLabel('Options (JSON)').fill('{"sandbox": {"delay_ms": 4000}}')
  await page.getByRole('button', { name: 'Send message' }).click()
  await page.waitForURL(/\/portal\/ns\/demo\/messages\/msg_/)
  const id = new URL(page.url()).pathname.split('/').at(-1)!
  const live = page.locator('#message-live')
  expect(await live.textContent()).not.toContain('delivered')
  // A marker that a reload would lose: the update must come over the open page.
  await page.evaluate(() => {
    ;(globalThis as { marker?: number }).marker = 42
  })
  await page.waitForSelector('#message-live .status-line .status-delivered', { timeout: 30_000 })
  expect(await page.evaluate(() => (globalThis as { marker?: number }).marker)).toBe(42)
  expect(await live.textContent()).toContain('sent')
  expect(await page.locator('pre').first().textContent()).toBe('Hello from the portal')
  expect(await statusOf(id)).toBe('delivered')
  expect(consoleErrors).toEqual([] as string[])
})

browserTest('a bad field is named next to it on the send form, and the picked send time is kept', async ({ page }) => {
  await signIn(page, url, admin.email, admin.password)
  await page.goto(`${url}/portal/ns/demo/messages/new`)
  await page.getByLabel('Text', { exact: true }).fill('no recipient')
  const picked = `${inAMonth()}T09:30`
  await page.getByLabel('Send at').fill(picked)
  const [answer] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: 'Send message' }).click()])
  expect(answer.status()).toBe(422)
  await page.waitForSelector('#to-error')
  expect(await page.locator('#to-error').textContent()).toBe('is required')
  expect(await page.locator('#send_at-error').count()).toBe(0)
  expect(await page.getByLabel('To').getAttribute('aria-invalid')).toBe('true')
  expect(await page.getByLabel('Text', { exact: true }).inputValue()).toBe('no recipient')
  expect(await page.getByLabel('Send at').inputValue()).toBe(picked)
})

browserTest(
  "times are picked in the browser's zone: a scheduled send is stored as that instant, and a filter keeps its time",
  async ({ page, consoleErrors }) => {
    await signIn(page, url, admin.email, admin.password)
    await page.goto(`${url}/portal/ns/demo/messages/new`)
    // The label names the zone the picker is in (without script it says UTC).
    expect(await page.locator('label[for="send_at"]').textContent()).toBe('Send at (America/New_York)')
    await page.getByLabel('To').fill('zoned@example.com')
    await page.getByLabel('Text', { exact: true }).fill('half past nine in New York')
    // Half a year ahead: on the other side of a summer-time change for most of the year, so the
    // offset must be the one of the picked day, not of today.
    const day = new Date(Date.now() + 182 * 86_400_000).toISOString().slice(0, 10)
    await page.getByLabel('Send at').fill(`${day}T09:30`)
    await page.getByRole('button', { name: 'Send message' }).click()
    await page.waitForURL(/\/portal\/ns\/demo\/messages\/msg_/)
    const id = new URL(page.url()).pathname.split('/').at(-1)!
    const [row] = await gw.deps.store.read.select({ sendAt: messages.sendAt }).from(messages).where(eq(messages.id, id))
    expect(new Date(row!.sendAt!).toISOString()).toBe(newYorkToUtc(`${day}T09:30`))

    // The list's Since filter: an hour from now in New York hides the message just scheduled; an hour ago shows it.
    await page.goto(`${url}/portal/ns/demo/messages`)
    const filter = async (since: string) => {
      await page.getByLabel('Since').fill(since)
      const swapped = page.evaluate(() => new Promise<void>((resolve) => (globalThis as unknown as { document: { addEventListener(t: string, f: () => void, o: object): void } }).document.addEventListener('htmx:after:swap', () => resolve(), { once: true })))
      await page.getByRole('button', { name: 'Filter' }).click()
      await swapped
    }
    await filter(newYorkWall(Date.now() + 3_600_000))
    await page.getByText('No messages match these filters').waitFor()
    const anHourAgo = newYorkWall(Date.now() - 3_600_000)
    await filter(anHourAgo)
    await page.waitForSelector(`a[href$="/messages/${id}"]`)
    // The address holds the time with its offset; reloaded, the picker shows the same local time.
    expect(new URL(page.url()).searchParams.get('since_tz_offset')).toMatch(/^(240|300)$/)
    await page.reload()
    expect(await page.getByLabel('Since').inputValue()).toBe(anHourAgo)
    await expect(page.locator(`a[href$="/messages/${id}"]`).count()).resolves.toBe(1)

    // A link with an RFC 3339 time shows it in New York time (January: UTC−5).
    await page.goto(`${url}/portal/ns/demo/messages?since=2026-01-02T15:04:05Z`)
    expect(await page.getByLabel('Since').inputValue()).toBe('2026-01-02T10:04:05')
    expect(consoleErrors).toEqual([] as string[])
    // What no picker can show stays as typed, in a text box, next to its error (a 422: the console notes it).
    await page.goto(`${url}/portal/ns/demo/messages?since=yesterday`)
    expect(await page.getByLabel('Since').inputValue()).toBe('yesterday')
    expect(await page.locator('#since-error').textContent()).toContain('RFC 3339')
  },
  60_000,
  { timezoneId: 'America/New_York' },
)

browserTest('the message list filters by status', async ({ page, consoleErrors }) => {
  const scheduled = await send(demo.namespaceId, { send_at: inAnHour(), to: 'filter@example.com' })
  await signIn(page, url, admin.email, admin.password)
  await page.goto(`${url}/portal/ns/demo/messages`)
  await page.getByLabel('Status').selectOption('scheduled')
  // htmx puts the new address in the bar before it swaps the list: wait for the swap itself.
  const swapped = page.evaluate(() => new Promise<void>((resolve) => (globalThis as unknown as { document: { addEventListener(t: string, f: () => void, o: object): void } }).document.addEventListener('htmx:after:swap', () => resolve(), { once: true })))
  await page.getByRole('button', { name: 'Filter' }).click()
  await swapped
  await page.waitForURL(/status=scheduled/)
  await page.waitForSelector(`a[href$="/messages/${scheduled}"]`)
  const statuses = await page.locator('#message-results tbody .badge').allTextContents()
  expect(statuses.length).toBeGreaterThan(0)
  expect(new Set(statuses)).toEqual(new Set(['scheduled']))
  expect(consoleErrors).toEqual([] as string[])
})

browserTest('an admin cancels a scheduled message from its page', async ({ page }) => {
  const id = await send(demo.namespaceId, { send_at: inAnHour() })
  await signIn(page, url, admin.email, admin.password)
  await page.goto(`${url}/portal/ns/demo/messages/${id}`)
  page.on('dialog', (d) => void d.accept())
  await page.getByRole('button', { name: 'Cancel message' }).click()
  await page.waitForSelector('#message-live .status-line .status-cancelled')
  expect(await statusOf(id)).toBe('cancelled')
})

browserTest('a viewer sees no cancel or send controls, and a POST by hand is refused', async ({ page }) => {
  const id = await send(demo.namespaceId, { send_at: inAnHour() })
  await signIn(page, url, viewer.email, viewer.password)
  expect(new URL(page.url()).pathname).toBe('/portal/ns/demo/dashboard')
  await page.goto(`${url}/portal/ns/demo/messages`)
  await expect(page.getByRole('link', { name: 'Send a test message' }).count()).resolves.toBe(0)
  await page.goto(`${url}/portal/ns/demo/messages/${id}`)
  await expect(page.getByText('scheduled').first().isVisible()).resolves.toBe(true)
  await expect(page.getByRole('button', { name: 'Cancel message' }).count()).resolves.toBe(0)
  // The page's own token and origin: only the role stands in the way.
  const answers = await page.evaluate(async (paths) => {
    // Runs in the page (no DOM types here): the token the page itself carries.
    const doc = (globalThis as unknown as { document: { querySelector(s: string): { getAttribute(n: string): string | null } } }).document
    const token = doc.querySelector('meta[name="csrf-token"]').getAttribute('content')!
    const post = (path: string, fields: Record<string, string>) =>
      fetch(path, { method: 'POST', body: new URLSearchParams({ _csrf: token, ...fields }), redirect: 'manual' }).then((r) => r.status)
    return [await post(paths.cancel, {}), await post(paths.send, { channel: 'sandbox', to: 'x@example.com', text: 'hi' })]
  }, { cancel: `/portal/ns/demo/messages/${id}/cancel`, send: '/portal/ns/demo/messages' })
  expect(answers).toEqual([403, 403])
  expect(await statusOf(id)).toBe('scheduled')
  await page.goto(`${url}/portal/ns/demo/messages/new`)
  await expect(page.getByRole('heading', { name: 'Not allowed' }).count()).resolves.toBe(1)
})

browserTest("another namespace's message id in the URL shows not found", async ({ page }) => {
  const foreign = await send(other.namespaceId)
  await signIn(page, url, viewer.email, viewer.password)
  const res = await page.goto(`${url}/portal/ns/demo/messages/${foreign}`)
  expect(res?.status()).toBe(404)
  await expect(page.getByRole('heading', { name: 'Not found' }).count()).resolves.toBe(1)
  expect(await page.content()).not.toContain('ada@example.com')
  // Nor can the viewer open the other namespace itself.
  expect((await page.goto(`${url}/portal/ns/other/messages/${foreign}`))?.status()).toBe(404)
})

browserTest('sign-in works from the keyboard alone, and pages fit a 375 px wide screen', async ({ page, consoleErrors }) => {
  const id = await send(demo.namespaceId, { send_at: inAnHour(), to: 'someone.with.a.rather.long.address@example.com' })
  await page.setViewportSize({ width: 375, height: 812 })
  await page.goto(`${url}/portal/login`)
  await page.keyboard.press('Tab') // the skip link
  await page.keyboard.press('Tab')
  await page.keyboard.type(admin.email)
  await page.keyboard.press('Tab')
  await page.keyboard.type(admin.password)
  await page.keyboard.press('Enter')
  await page.waitForURL(`${url}/portal/ns/demo/dashboard`)
  const scrollWidth = () => page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)
  for (const path of ['/portal/ns/demo/dashboard', '/portal/ns/demo/messages', `/portal/ns/demo/messages/${id}`, '/portal/ns/demo/messages/new', '/portal/account']) {
    await page.goto(url + path)
    expect(await scrollWidth(), path).toBeLessThanOrEqual(375)
  }
  expect(consoleErrors).toEqual([] as string[])
})
