/**
 * Browser tests: Debian's Chromium (/usr/bin/chromium) driven by playwright-core against a real
 * gateway listening on 127.0.0.1. Each test gets a fresh browser context (its own cookies); a
 * failing test leaves a screenshot in test/artifacts/<test name>.png.
 *
 * Without Chromium the browser tests are not registered, with a loud message, unless CI is set:
 * then the file fails to load, so CI cannot pass without them.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, test } from 'bun:test'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import type { Deps } from '../../src/domain/deps'
import { setPasswordHashCost } from '../../src/domain/identity/users'

export const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = join(import.meta.dir, '..', 'artifacts')
const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

/** Whether browser tests run here. */
export const browserAvailable = existsSync(CHROMIUM)
if (!browserAvailable) {
  const message = `chromium not found: browser tests SKIPPED; install Debian package chromium (expected ${CHROMIUM})`
  if (process.env.CI) throw new Error(message)
  console.warn(`\n${'!'.repeat(78)}\n!!! ${message}\n${'!'.repeat(78)}\n`)
}

// Cheap argon2 in tests: the cost is not what is under test.
setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })

let browser: Promise<Browser> | null = null
/** One Chromium per test file (a fresh temporary profile), closed after the file's tests. */
export function launchBrowser(): Promise<Browser> {
  browser ??= chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS })
  return browser
}
/** Closes this file's Chromium; the next file (bun runs them in one process) launches a new one. */
async function closeBrowser(): Promise<void> {
  const open = browser
  browser = null
  if (open) await (await open).close()
}
afterAll(closeBrowser)

export interface BrowserTestContext {
  page: Page
  context: BrowserContext
  /** Messages the page printed to its console that look like errors (a CSP violation, a script error). */
  consoleErrors: string[]
}

const fileName = (name: string) => name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 120)

/** What a test may set on its browser context: the time zone the browser believes it is in (`America/New_York`). */
export interface BrowserTestOptions {
  timezoneId?: string
}

/**
 * A browser test: a new context and page at a desktop size; on failure, a screenshot in
 * test/artifacts/<name>.png before the error is rethrown. Not registered without Chromium.
 */
export function browserTest(name: string, body: (t: BrowserTestContext) => Promise<void>, timeoutMs = 60_000, options: BrowserTestOptions = {}): void {
  if (!browserAvailable) return
  // Registered by each file that has browser tests, not only by the first one to import this module.
  afterAll(closeBrowser)
  test(
    name,
    async () => {
      const context = await (await launchBrowser()).newContext({ viewport: { width: 1280, height: 900 }, ...(options.timezoneId ? { timezoneId: options.timezoneId } : {}) })
      const page = await context.newPage()
      const consoleErrors: string[] = []
      page.on('console', (m) => {
        if (m.type() === 'error') consoleErrors.push(m.text())
      })
      page.on('pageerror', (e) => consoleErrors.push(e.message))
      try {
        await body({ page, context, consoleErrors })
      } catch (error) {
        mkdirSync(ARTIFACTS, { recursive: true })
        await page.screenshot({ path: join(ARTIFACTS, `${fileName(name)}.png`), fullPage: true }).catch(() => {})
        throw error
      } finally {
        await context.close()
      }
    },
    timeoutMs,
  )
}

// Accounts for browser tests: the same helpers as the HTTP-level portal tests.
export { makeMember, makeUser } from './portal-client'

/** Signs in through the login page, as a person would. */
export async function signIn(page: Page, baseUrl: string, email: string, password: string): Promise<void> {
  await page.goto(`${baseUrl}/portal/login`)
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL((url) => !url.pathname.startsWith('/portal/login'))
}
