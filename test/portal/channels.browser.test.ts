/**
 * Channels in a real Chromium (issue #9): creating a channel through the form generated from
 * its connector's schema, a bad field named next to it, the inbound callback URL copied from
 * the channel's page; and what a viewer does not see. No page may log a console error (a CSP
 * violation shows there), apart from the status line of a refused form.
 */
import { afterAll, expect } from 'bun:test'
import { and, eq } from 'drizzle-orm'
import { openChannelConfig } from '../../src/domain/channels'
import { channels } from '../../src/store/schema'
import { startTestGateway } from '../helpers/gateway'
import { browserTest, makeMember, makeUser, signIn } from './browser'

const gw = await startTestGateway({}, { listen: true })
afterAll(() => gw.close())
const url = gw.url!
const demo = await gw.tenant('demo')
const admin = await makeUser(gw.deps, 'ops@example.com')
const viewer = await makeMember(gw.deps, demo.namespaceId, 'viewer@example.com', 'viewer')

/** Console errors other than Chromium's line about a 4xx answer (a refused form is one). */
const realErrors = (errors: string[]) => errors.filter((e) => !/the server responded with a status of 4\d\d/.test(e))
const channelNamed = async (name: string) => (await gw.deps.store.read.select().from(channels).where(and(eq(channels.namespaceId, demo.namespaceId), eq(channels.name, name))))[0]

browserTest('an admin creates a channel through the generated form, sees a bad field named, then copies its callback URL', async ({ page, context, consoleErrors }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url })
  await signIn(page, url, admin.email, admin.password)
  await page.getByRole('link', { name: 'Channels', exact: true }).click()
  // count() does not wait: the page it counts on must have loaded.
  await page.waitForURL(`${url}/portal/ns/demo/channels`)
  await expect(page.getByText('No channels yet').count()).resolves.toBe(1)
  await page.getByRole('link', { name: 'Add a channel' }).click()
  await page.getByLabel('Type', { exact: true }).selectOption('http')
  await page.getByRole('button', { name: 'Continue' }).click()
  await page.waitForURL(/\/channels\/new\?type=http/)

  await page.getByLabel('Name', { exact: true }).fill('hooks')
  await page.getByLabel('URL', { exact: true }).fill('not a url')
  await page.getByLabel('Inbound secret').fill('an-inbound-secret-of-some-length')
  await page.getByRole('button', { name: 'Create channel' }).click()
  const urlError = page.locator('[id="config.url-error"]')
  await urlError.waitFor()
  expect(await urlError.textContent()).toBeTruthy()
  expect(await page.getByLabel('URL', { exact: true }).getAttribute('aria-invalid')).toBe('true')
  expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('hooks')
  // The secret typed is not sent back: it must be typed again.
  expect(await page.getByLabel('Inbound secret').inputValue()).toBe('')
  expect(await channelNamed('hooks')).toBeUndefined()

  await page.getByLabel('URL', { exact: true }).fill(`${url}/receiver`)
  await page.getByLabel('Inbound secret').fill('an-inbound-secret-of-some-length')
  await page.getByRole('button', { name: 'Create channel' }).click()
  await page.waitForURL(/\/portal\/ns\/demo\/channels\/ch_/)
  const row = (await channelNamed('hooks'))!
  expect(openChannelConfig(gw.deps, row)).toMatchObject({ url: `${url}/receiver`, inbound_secret: 'an-inbound-secret-of-some-length' })
  const callback = `${url}/inbound/${row.id}`
  expect(await page.locator('#inbound-url').textContent()).toBe(callback)
  await page.getByRole('button', { name: 'Copy' }).click()
  await page.getByRole('button', { name: 'Copied' }).waitFor()
  expect(await page.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText())).toBe(callback)
  expect(await page.content()).not.toContain('an-inbound-secret-of-some-length')

  // Readable at phone width: nothing wider than the screen.
  await page.setViewportSize({ width: 375, height: 800 })
  expect(await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)).toBeLessThanOrEqual(375)
  expect(realErrors(consoleErrors)).toEqual([])
})

browserTest('a viewer sees channels and their health but none of the controls, and a POST by hand is refused', async ({ page, consoleErrors }) => {
  const id = await gw.channel(demo.namespaceId, 'viewed')
  await signIn(page, url, viewer.email, viewer.password)
  await page.getByRole('link', { name: 'Channels', exact: true }).click()
  await page.waitForURL(`${url}/portal/ns/demo/channels`)
  await expect(page.getByRole('link', { name: 'viewed' }).count()).resolves.toBe(1)
  await expect(page.getByRole('link', { name: 'Add a channel' }).count()).resolves.toBe(0)
  await page.getByRole('link', { name: 'viewed' }).click()
  await page.waitForURL(`${url}/portal/ns/demo/channels/${id}`)
  await expect(page.getByRole('heading', { name: 'Health' }).count()).resolves.toBe(1)
  for (const name of ['Test credentials', 'Pause', 'Delete', 'Add terminal']) await expect(page.getByRole('button', { name }).count()).resolves.toBe(0)
  await expect(page.getByRole('link', { name: 'Edit' }).count()).resolves.toBe(0)
  const status = await page.evaluate(async (path) => {
    const doc = (globalThis as unknown as { document: { querySelector(s: string): { getAttribute(n: string): string | null } } }).document
    const token = doc.querySelector('meta[name="csrf-token"]').getAttribute('content')!
    return (await fetch(path, { method: 'POST', body: new URLSearchParams({ _csrf: token }), redirect: 'manual' })).status
  }, `/portal/ns/demo/channels/${id}/pause`)
  expect(status).toBe(403)
  expect((await channelNamed('viewed'))!.status).toBe('active')
  expect(realErrors(consoleErrors)).toEqual([])
})
