/**
 * The README's portal screenshots, made by the same browser helper as the tests:
 *
 *   bun test ./test/portal/screenshots.ts
 *
 * writes docs/images/portal-dashboard.png and docs/images/portal-message.png (1280×800). A day
 * of sandbox traffic is sent through the real engine first, hour by hour on a moved clock
 * (`setSystemTime`), so the chart has something to show. Not part of `bun test` (the file name
 * has no `.test.`).
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, expect, setSystemTime } from 'bun:test'
import type { Deps } from '../../src/domain/deps'
import { sendMessage } from '../../src/domain/messages/send'
import { eventually, startTestGateway } from '../helpers/gateway'
import { messages } from '../../src/store/schema'
import { browserTest, makeUser, signIn } from './browser'

const IMAGES = join(import.meta.dir, '..', '..', 'docs', 'images')
const HOUR = 3_600_000

const gw = await startTestGateway({}, { listen: true })
afterAll(() => gw.close())
const demo = await gw.tenant('demo')
await gw.channel(demo.namespaceId, 'sandbox')
await gw.channel(demo.namespaceId, 'alerts')
const admin = await makeUser(gw.deps, 'ops@example.com')

async function unsettled(deps: Deps): Promise<number> {
  const rows = await deps.store.read.select({ status: messages.status }).from(messages)
  return rows.filter((r) => !['delivered', 'read', 'failed'].includes(r.status)).length
}

/** A day of traffic: more by day than by night, a few failures, one failing burst. */
async function sendDay(deps: Deps) {
  await gw.startEngine({ max_attempts: 1 })
  const end = Date.now()
  for (let h = 23; h >= 0; h--) {
    setSystemTime(new Date(end - h * HOUR))
    const n = 6 + Math.round(10 * Math.sin(((24 - h) / 24) * Math.PI))
    for (let i = 0; i < n; i++) {
      const outcome = i % 9 === 8 ? 'failed' : i % 4 === 0 ? 'read' : 'delivered'
      await sendMessage(deps, demo.namespaceId, { channel: i % 3 === 0 ? 'alerts' : 'sandbox', to: `user${i}@example.com`, content: { subject: `Order ${h}-${i} shipped`, text: 'Your order is on its way.' }, options: { sandbox: { outcome } } })
    }
    await eventually(async () => (await unsettled(deps)) === 0)
  }
  setSystemTime()
}

browserTest('portal screenshots for the README', async ({ page }) => {
  await sendDay(gw.deps)
  mkdirSync(IMAGES, { recursive: true })
  await page.setViewportSize({ width: 1280, height: 800 })
  await signIn(page, gw.url!, admin.email, admin.password)
  await page.waitForSelector('[data-chart][data-drawn]')
  await page.screenshot({ path: join(IMAGES, 'portal-dashboard.png') })

  await page.goto(`${gw.url}/portal/ns/demo/messages/new`)
  await page.getByLabel('To').fill('ada@example.com')
  await page.getByLabel('Subject').fill('Your verification code')
  await page.getByLabel('Text', { exact: true }).fill('Your code is 481 516. It expires in 10 minutes.')
  await page.getByRole('button', { name: 'Send message' }).click()
  await page.waitForSelector('#message-live .status-line .status-delivered')
  await page.screenshot({ path: join(IMAGES, 'portal-message.png') })
  expect(await page.locator('#message-live').textContent()).toContain('delivered')
}, 120_000)
