/**
 * Webhooks in a real Chromium (issue #9): creating a webhook and seeing its signing secret once
 * (copied with the button; a reload or a later visit never shows it), rotating it, and the
 * delivery log with a failed delivery retried from its row. No page may log a console error.
 */
import { afterAll, expect } from 'bun:test'
import { eq } from 'drizzle-orm'
import { sendMessage } from '../../src/domain/messages/send'
import { openSecrets } from '../../src/domain/webhooks/endpoints'
import { webhookDeliveries, webhooks } from '../../src/store/schema'
import { startWebhookReceiver } from '../fakes/webhook-receiver'
import { eventually, startTestGateway } from '../helpers/gateway'
import { browserTest, makeUser, signIn } from './browser'

// One attempt per delivery: a failing receiver dead-letters it at once.
const gw = await startTestGateway({ webhooks: { retry_schedule_ms: [0], timeout_ms: 1000 } }, { listen: true })
const receiver = startWebhookReceiver(() => new Response('try later', { status: 503 }))
afterAll(async () => {
  await gw.close()
  await receiver.stop()
})
const url = gw.url!
const demo = await gw.tenant('demo')
await gw.channel(demo.namespaceId, 'sandbox')
await gw.startEngine()
const admin = await makeUser(gw.deps, 'ops@example.com')

type Doc = { document: { body: { innerText: string } } }
const bodyText = (page: import('playwright-core').Page) => page.evaluate(() => (globalThis as unknown as Doc).document.body.innerText)
const hookById = async (id: string) => (await gw.deps.store.read.select().from(webhooks).where(eq(webhooks.id, id)))[0]!

browserTest('an admin creates a webhook and sees its secret once: not after a reload, nor on a later visit', async ({ page, context, consoleErrors }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url })
  await signIn(page, url, admin.email, admin.password)
  await page.getByRole('link', { name: 'Webhooks', exact: true }).click()
  // count() does not wait: the page it counts on must have loaded.
  await page.waitForURL(`${url}/portal/ns/demo/webhooks`)
  await expect(page.getByText('No webhooks yet').count()).resolves.toBe(1)
  await page.getByRole('link', { name: 'Add a webhook' }).click()
  await page.getByLabel('URL', { exact: true }).fill(receiver.url)
  await page.getByLabel('message.delivered').check()
  await page.getByLabel('message.failed').check()
  await page.getByLabel('sandbox').check()
  await page.getByRole('button', { name: 'Create webhook' }).click()
  await page.getByRole('heading', { name: 'Webhook created' }).waitFor()
  // The page's script has run (the Copy button works) once it has put the webhook's own page in the address bar.
  await page.waitForURL(/\/portal\/ns\/demo\/webhooks\/wh_[^/]+$/)

  const secret = (await page.locator('#webhook-secret').textContent())!
  expect(secret).toMatch(/^whsec_/)
  await page.getByRole('button', { name: 'Copy' }).click()
  await page.getByRole('button', { name: 'Copied' }).waitFor()
  expect(await page.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText())).toBe(secret)
  const id = new URL(page.url()).pathname.split('/').at(-1)!
  expect(id).toStartWith('wh_')
  const row = await hookById(id)
  expect(openSecrets(gw.deps, row).secrets[0]!.secret).toBe(secret)
  expect(row.eventTypes).toEqual(['message.delivered', 'message.failed'])

  // The address bar holds the webhook's page: a reload shows it, without the secret, and creates nothing.
  await page.reload()
  await page.getByRole('heading', { name: 'Settings' }).waitFor()
  expect(await bodyText(page)).not.toContain(secret)
  expect(await gw.deps.store.read.select().from(webhooks)).toHaveLength(1)
  await page.getByRole('link', { name: 'All webhooks' }).click()
  expect(await bodyText(page)).not.toContain(secret)
  await page.getByRole('link', { name: receiver.url }).click()
  expect(await page.content()).not.toContain(secret)
  expect(consoleErrors).toEqual([] as string[])
})

browserTest('an admin rotates the secret (shown once), and retries a failed delivery from the log', async ({ page, consoleErrors }) => {
  await signIn(page, url, admin.email, admin.password)
  await page.goto(`${url}/portal/ns/demo/webhooks/new`)
  await page.getByLabel('URL', { exact: true }).fill(receiver.url)
  await page.getByLabel('message.queued').check()
  await page.getByRole('button', { name: 'Create webhook' }).click()
  await page.waitForURL(/\/portal\/ns\/demo\/webhooks\/wh_[^/]+$/)
  const first = (await page.locator('#webhook-secret').textContent())!
  const id = new URL(page.url()).pathname.split('/').at(-1)!
  await page.getByRole('link', { name: 'Done: go to the webhook' }).click()

  page.on('dialog', (d) => void d.accept())
  await page.getByRole('button', { name: 'Rotate secret' }).click()
  await page.getByRole('heading', { name: 'New signing secret' }).waitFor()
  const second = (await page.locator('#webhook-secret').textContent())!
  expect(second).toMatch(/^whsec_/)
  expect(second).not.toBe(first)
  expect(openSecrets(gw.deps, await hookById(id)).secrets.map((s) => s.secret)).toEqual([second, first])

  await sendMessage(gw.deps, demo.namespaceId, { channel: 'sandbox', to: 'ada@example.com', content: { text: 'hello' } })
  const delivery = await eventually(async () => {
    const [d] = await gw.deps.store.read.select().from(webhookDeliveries).where(eq(webhookDeliveries.webhookId, id))
    return d?.status === 'failed' ? d : null
  })
  await page.goto(`${url}/portal/ns/demo/webhooks/${id}`)
  const logRow = page.locator(`#delivery-${delivery.id}`)
  expect(await logRow.textContent()).toContain('503')
  expect(await logRow.textContent()).toMatch(/\d+ ms/)
  await logRow.getByRole('button', { name: 'Retry' }).click()
  await page.getByText('The delivery is queued to be sent again now.').waitFor()
  await eventually(async () => {
    const [d] = await gw.deps.store.read.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, delivery.id))
    return d!.attempts === 2
  })
  expect(await bodyText(page)).not.toContain(second)
  expect(consoleErrors).toEqual([] as string[])
})
