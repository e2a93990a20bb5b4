/**
 * Members in a real Chromium (issue #9): an owner invites someone by e-mail (through a real SMTP
 * server), changes a member's role and finds both in the audit log; a viewer sees the members
 * but no control.
 */
import { afterAll, expect } from 'bun:test'
import { and, eq } from 'drizzle-orm'
import { memberships } from '../../src/store/schema'
import { startSmtpSink } from '../fakes/smtp-server'
import { eventually, startTestGateway } from '../helpers/gateway'
import { browserTest, makeMember, signIn } from './browser'

const sink = await startSmtpSink()
const gw = await startTestGateway({ mail: { smtp_url: `smtp://127.0.0.1:${sink.port}`, from: 'omnigate <noreply@gw.test>' } }, { listen: true })
afterAll(async () => {
  await gw.close()
  await sink.stop()
})
const url = gw.url!
const demo = await gw.tenant('demo')
const owner = await makeMember(gw.deps, demo.namespaceId, 'owner@example.com', 'owner')
const dev = await makeMember(gw.deps, demo.namespaceId, 'dev@example.com', 'developer')
const viewer = await makeMember(gw.deps, demo.namespaceId, 'viewer@example.com', 'viewer')

const roleOf = async (userId: string) =>
  (await gw.deps.store.read.select({ role: memberships.role }).from(memberships).where(and(eq(memberships.namespaceId, demo.namespaceId), eq(memberships.userId, userId))))[0]?.role

browserTest('an owner invites someone, changes a role, and finds both in the audit log', async ({ page, consoleErrors }) => {
  await signIn(page, url, owner.email, owner.password)
  await page.getByRole('link', { name: 'Members', exact: true }).click()
  await page.waitForURL(`${url}/portal/ns/demo/members`)

  const invite = page.getByRole('form', { name: 'Invite someone' })
  await invite.getByLabel('Email').fill('newcomer@example.com')
  await invite.getByLabel('Role').selectOption('developer')
  await invite.getByRole('button', { name: 'Send invitation' }).click()
  await page.getByText('The invitation is mailed.').waitFor()
  // count() does not wait: the page it counts on must have loaded.
  await page.waitForLoadState()
  await expect(page.getByRole('table', { name: 'Invitations' }).getByText('newcomer@example.com').count()).resolves.toBe(1)
  await eventually(async () => sink.received.find((m) => m.rcptTo.includes('newcomer@example.com')))

  await page.getByLabel('Role of dev@example.com', { exact: true }).selectOption('admin')
  await page.getByRole('button', { name: 'Change the role of dev@example.com' }).click()
  await page.getByText('The role is changed.').waitFor()
  expect(await page.getByLabel('Role of dev@example.com', { exact: true }).inputValue()).toBe('admin')
  expect(await roleOf(dev.id)).toBe('admin')

  await page.getByRole('link', { name: 'Audit log' }).click()
  await page.waitForURL(`${url}/portal/ns/demo/members/audit`)
  const log = page.getByRole('table', { name: 'Audit log' })
  await expect(log.getByText('POST /portal/ns/{ns}/members/{user}/role').count()).resolves.toBe(1)
  await expect(log.getByText('POST /portal/ns/{ns}/members/invitations').count()).resolves.toBe(1)
  // Filtering by an action from the list keeps only those entries.
  await log.getByRole('link', { name: 'POST /portal/ns/{ns}/members/{user}/role' }).click()
  await page.waitForURL(/action=/)
  await expect(page.getByRole('table', { name: 'Audit log' }).locator('tbody tr').count()).resolves.toBe(1)
  expect(consoleErrors).toEqual([] as string[])
})

browserTest('a viewer sees the members but no control to change them', async ({ page, consoleErrors }) => {
  await signIn(page, url, viewer.email, viewer.password)
  await page.getByRole('link', { name: 'Members', exact: true }).click()
  await page.waitForURL(`${url}/portal/ns/demo/members`)
  await expect(page.getByRole('table', { name: 'Members' }).getByText('owner@example.com').count()).resolves.toBe(1)
  await expect(page.locator('main select').count()).resolves.toBe(0)
  await expect(page.getByRole('button', { name: /Change|Remove|Withdraw|Send invitation/ }).count()).resolves.toBe(0)
  await expect(page.getByRole('link', { name: 'Audit log' }).count()).resolves.toBe(0)
  expect(consoleErrors).toEqual([] as string[])
})
