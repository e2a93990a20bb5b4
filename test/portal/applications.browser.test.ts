/**
 * Applications in a real Chromium (issue #9): a developer creates an application and an API key
 * (shown once, copied with the button), the key works against the API, is revoked in the
 * portal, and the API refuses it; a viewer sees the keys but no control.
 */
import { afterAll, expect } from 'bun:test'
import { and, eq } from 'drizzle-orm'
import { apiKeys, oauthClients } from '../../src/store/schema'
import { startTestGateway } from '../helpers/gateway'
import { browserTest, makeMember, signIn } from './browser'

const gw = await startTestGateway({}, { listen: true })
afterAll(() => gw.close())
const url = gw.url!
const demo = await gw.tenant('demo')
const developer = await makeMember(gw.deps, demo.namespaceId, 'dev@example.com', 'developer')
const viewer = await makeMember(gw.deps, demo.namespaceId, 'viewer@example.com', 'viewer')

/** A real HTTP request to the gateway with the key, as a client program makes it. */
const apiStatus = async (key: string) => (await fetch(`${url}/v1/namespaces/demo/channels`, { headers: { authorization: `Bearer ${key}` } })).status

browserTest('a developer creates and revokes an API key, and the API refuses the revoked key', async ({ page, context, consoleErrors }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url })
  await signIn(page, url, developer.email, developer.password)
  await page.getByRole('link', { name: 'Applications', exact: true }).click()
  await page.waitForURL(`${url}/portal/ns/demo/applications`)
  const newApp = page.getByRole('form', { name: 'New application' })
  await newApp.getByLabel('Name').fill('billing')
  await newApp.getByLabel('Description').fill('Sends the invoices')
  await newApp.getByRole('button', { name: 'Create application' }).click()
  await page.waitForURL(/\/portal\/ns\/demo\/applications\/app_/)
  await expect(page.getByRole('heading', { name: 'billing' }).count()).resolves.toBe(1)

  const keyForm = page.getByRole('form', { name: 'New API key' })
  await keyForm.getByLabel('Name').fill('production')
  await keyForm.getByLabel('channels:read').check()
  await keyForm.getByLabel('messages:send').check()
  await keyForm.getByRole('button', { name: 'Create API key' }).click()
  // The answer to the POST: its script has run (the Copy button works) once the address bar holds the application's page.
  await page.waitForURL(/\/portal\/ns\/demo\/applications\/app_[0-9a-f]+$/)
  const secret = (await page.locator('#new-secret').textContent())!.trim()
  expect(secret).toMatch(/^og_live_/)
  await page.getByRole('button', { name: 'Copy' }).click()
  await page.getByRole('button', { name: 'Copied' }).waitFor()
  expect(await page.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText())).toBe(secret)
  expect(await apiStatus(secret)).toBe(200)

  // Shown once: the address is already the application's page, and a reload shows no secret.
  const appPage = new URL(page.url()).pathname
  expect(appPage).toMatch(/^\/portal\/ns\/demo\/applications\/app_[0-9a-f]+$/)
  await page.reload()
  expect(await page.content()).not.toContain(secret)
  await page.getByRole('link', { name: 'All applications' }).click()
  await page.getByRole('link', { name: 'billing' }).click()
  await page.waitForURL(url + appPage)
  const keys = page.getByRole('table', { name: 'API keys' })
  await expect(keys.getByText('messages:send, channels:read').count()).resolves.toBe(1)

  page.on('dialog', (d) => void d.accept())
  await keys.getByRole('button', { name: 'Revoke API key production' }).click()
  await page.getByText('The API key is revoked').waitFor()
  await expect(keys.getByText('revoked', { exact: true }).count()).resolves.toBe(1)
  expect(await apiStatus(secret)).toBe(401)
  expect(consoleErrors).toEqual([] as string[])
})

browserTest(
  "expiry times are picked in the browser's zone, each with the offset of its own day",
  async ({ page, consoleErrors }) => {
    await signIn(page, url, developer.email, developer.password)
    await page.goto(`${url}/portal/ns/demo/applications`)
    await page.getByRole('link', { name: 'test-app' }).click()
    await page.waitForURL(/\/portal\/ns\/demo\/applications\/app_[0-9a-f]+$/)
    const appId = new URL(page.url()).pathname.split('/').at(-1)!
    // New York: UTC−5 in January, UTC−4 in July. Whatever today's offset, one of them differs from it.
    const keyForm = page.getByRole('form', { name: 'New API key' })
    expect(await keyForm.locator('label[for="key_expires_at"]').textContent()).toBe('Expires at (America/New_York)')
    await keyForm.getByLabel('Name').fill('winter')
    await keyForm.getByLabel('messages:read').check()
    await keyForm.getByLabel('Expires at').fill('2031-01-15T08:00')
    await keyForm.getByRole('button', { name: 'Create API key' }).click()
    await page.waitForURL(/\/portal\/ns\/demo\/applications\/app_[0-9a-f]+$/)
    await page.locator('#new-secret').waitFor()
    const clientForm = page.getByRole('form', { name: 'New OAuth client' })
    await clientForm.getByLabel('Name').fill('summer')
    await clientForm.getByLabel('messages:send').check()
    await clientForm.getByLabel('Expires at').fill('2031-07-15T08:00')
    await clientForm.getByRole('button', { name: 'Create OAuth client' }).click()
    await page.locator('#new-client-id').waitFor()
    const [key] = await gw.deps.store.read.select().from(apiKeys).where(and(eq(apiKeys.applicationId, appId), eq(apiKeys.name, 'winter')))
    expect(new Date(key!.expiresAt!).toISOString()).toBe('2031-01-15T13:00:00.000Z')
    const [client] = await gw.deps.store.read.select().from(oauthClients).where(and(eq(oauthClients.applicationId, appId), eq(oauthClients.name, 'summer')))
    expect(new Date(client!.expiresAt!).toISOString()).toBe('2031-07-15T12:00:00.000Z')
    expect(consoleErrors).toEqual([] as string[])
  },
  60_000,
  { timezoneId: 'America/New_York' },
)

browserTest('a viewer sees the applications and keys but no control, also on a phone-width screen', async ({ page, consoleErrors }) => {
  await page.setViewportSize({ width: 375, height: 800 })
  await signIn(page, url, viewer.email, viewer.password)
  await page.goto(`${url}/portal/ns/demo/applications`)
  await expect(page.getByRole('link', { name: 'test-app' }).count()).resolves.toBe(1)
  await expect(page.getByRole('form', { name: 'New application' }).count()).resolves.toBe(0)
  await page.getByRole('link', { name: 'test-app' }).click()
  await page.waitForURL(/\/portal\/ns\/demo\/applications\/app_[0-9a-f]+$/)
  await expect(page.getByRole('table', { name: 'API keys' }).count()).resolves.toBe(1)
  await expect(page.getByRole('button', { name: /Revoke|Create|Delete/ }).count()).resolves.toBe(0)
  // Nothing wider than the screen: tables scroll inside their own box.
  expect(await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)).toBeLessThanOrEqual(375)
  expect(consoleErrors).toEqual([] as string[])
})
