/**
 * OMNIGATE_* environment overrides as config.example.toml tells operators to use them: a variable
 * the file reads through a `${…}` placeholder is an input, not an unknown override (it refused
 * the example's own relay password), and a list of numbers is numbers (it was strings).
 */
import { afterAll, expect, test } from 'bun:test'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, loadConfig } from '.'
import { tempDir } from '../../test/helpers/stores'

const dir = tempDir()
afterAll(() => dir.cleanup())
const MASTER_KEY = Buffer.alloc(32, 7).toString('base64')

function load(toml: string, env: Record<string, string>) {
  const path = join(dir.path, `c-${Math.random().toString(36).slice(2)}.toml`)
  writeFileSync(path, toml)
  try {
    return { config: loadConfig({ path, explicitPath: true, env }).config, issues: [] as string[] }
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    return { config: null, issues: error.issues.map((i) => `${i.path}: ${i.message}`) }
  }
}

test('the SMTP relay password variable that config.example.toml suggests can be set without breaking the config', () => {
  // config.example.toml, [smtp]: users = [{ username = "relay", password = "${OMNIGATE_SMTP_RELAY_PASSWORD}" }]
  const example = readFileSync(join(import.meta.dir, '..', '..', 'config.example.toml'), 'utf8')
  expect(example).toContain('password = "${OMNIGATE_SMTP_RELAY_PASSWORD}"')
  const toml = `
[security]
master_key = "\${OMNIGATE_MASTER_KEY}"

[smtp]
enabled = true
auth_required = true
users = [{ username = "relay", password = "\${OMNIGATE_SMTP_RELAY_PASSWORD}" }]
`
  const { config, issues } = load(toml, { OMNIGATE_MASTER_KEY: MASTER_KEY, OMNIGATE_SMTP_RELAY_PASSWORD: 'relay-secret-123' })
  expect(issues).toEqual([])
  expect(config?.smtp.users).toEqual([{ username: 'relay', password: 'relay-secret-123' }])
})

test('a list of numbers can be overridden from the environment, comma-separated as the example says', () => {
  // config.example.toml: "OMNIGATE_<SECTION>_<KEY> ... (lists: comma-separated)"
  const { config, issues } = load('', { OMNIGATE_WEBHOOKS_RETRY_SCHEDULE_MS: '0,5000,60000' })
  expect(issues).toEqual([])
  expect(config?.webhooks.retry_schedule_ms).toEqual([0, 5000, 60000])
})
