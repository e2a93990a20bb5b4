/**
 * Instance admin in a real Chromium (issue #9): an instance admin opens Admin from the
 * navigation, provisions a namespace with a plan (its API key shown once), looks through users,
 * plans, jobs and system health, and deletes the namespace; anyone else has no Admin entry and
 * is refused the pages.
 */
import { afterAll, expect } from 'bun:test'
import { eq } from 'drizzle-orm'
import { namespaces } from '../../src/store/schema'
import { startTestGateway } from '../helpers/gateway'
import { browserTest, makeMember, makeUser, signIn } from './browser'

const gw = await startTestGateway({}, { listen: true })
afterAll(() => gw.close())
const url = gw.url!
const demo = await gw.tenant('demo')
const admin = await makeUser(gw.deps, 'ops@example.com')
const owner = await makeMember(gw.deps, demo.namespaceId, 'owner@example.com', 'owner')

const statusOf = async (slug: string) => (await gw.deps.store.read.select({ status: namespaces.status }).from(namespaces).where(eq(namespaces.slug, slug)))[0]?.status

browserTest('an instance admin provisions a namespace with a plan, looks around, and deletes it', async ({ page, consoleErrors }) => {
  await signIn(page, url, admin.email, admin.password)
  await page.getByRole('link', { name: 'Admin', exact: true }).click()
  await page.waitForURL(`${url}/portal/admin/namespaces`)

  const form = page.getByRole('form', { name: 'New namespace' })
  await form.getByLabel('Slug').fill('globex')
  await form.getByLabel('Plan').selectOption('pro')
  await form.getByLabel('Owner email').fill(owner.email)
  await form.getByRole('button', { name: 'Create namespace' }).click()
  await page.getByRole('heading', { name: 'Namespace globex is ready' }).waitFor()
  // The table below the heading is counted: the whole answer must have loaded.
  await page.waitForURL(`${url}/portal/admin/namespaces`)
  const key = (await page.locator('#new-secret').textContent())!.trim()
  expect((await fetch(`${url}/v1/namespaces/globex/channels`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200)
  const row = page.getByRole('table', { name: 'Namespaces' }).getByRole('row').filter({ hasText: 'globex' })
  await expect(row.getByText('pro', { exact: true }).count()).resolves.toBe(1)

  for (const [link, text] of [
    ['Users', 'owner@example.com'],
    ['Plans', 'signup default'],
    ['Jobs', 'namespace-purge'],
    ['System', 'bun-sqlite'],
  ] as const) {
    await page.getByRole('navigation', { name: 'Admin pages' }).getByRole('link', { name: link }).click()
    await page.getByRole('heading', { name: link }).waitFor()
    await page.getByText(text).first().waitFor()
  }

  await page.getByRole('navigation', { name: 'Admin pages' }).getByRole('link', { name: 'Namespaces' }).click()
  page.on('dialog', (d) => void d.accept())
  await page.getByRole('button', { name: 'Delete globex' }).click()
  await page.getByRole('button', { name: 'Restore globex' }).waitFor()
  expect(await statusOf('globex')).toBe('disabled')
  expect((await fetch(`${url}/v1/namespaces/globex/channels`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(401)
  expect(consoleErrors).toEqual([] as string[])
})

browserTest('a namespace owner has no Admin entry and is refused the admin pages', async ({ page }) => {
  await signIn(page, url, owner.email, owner.password)
  await expect(page.getByRole('link', { name: 'Admin', exact: true }).count()).resolves.toBe(0)
  const res = await page.goto(`${url}/portal/admin/namespaces`)
  expect(res!.status()).toBe(403)
  await expect(page.getByRole('heading', { name: 'Not allowed' }).count()).resolves.toBe(1)
})
