/**
 * Keys and clients through the CLI. A credential's expiry must be a date: `--expires-in-days` is
 * at most 36,500 and the domain refuses an expiry past 9999-12-31 (999999999 days was written,
 * then every list of the application's keys or clients failed with "Invalid Date", the API's
 * with a 500). `--json` is honoured by `key revoke` and `client revoke` (they printed a
 * sentence, breaking `| jq`), and so are the other commands that answered with a sentence.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createApiKey } from '../../src/domain/identity/api-keys'
import { generateMasterKey } from '../../src/lib/secrets'
import { startTestGateway } from '../helpers/gateway'
import { tempDir } from '../helpers/stores'
import { keyedConfig, runCli } from '../helpers/cli'

const masterKey = generateMasterKey()
let dir: ReturnType<typeof tempDir>
let configPath: string

const omnigate = (...args: string[]) => runCli(['--config', configPath, ...args], { cwd: dir.path, masterKey })

beforeAll(() => {
  dir = tempDir()
  configPath = join(dir.path, 'omnigate.toml')
  writeFileSync(configPath, keyedConfig(join(dir.path, 'og.db')))
  expect(omnigate('namespace', 'create', 'acme').code).toBe(0)
  expect(omnigate('app', 'create', 'backend', '-n', 'acme').code).toBe(0)
})
afterAll(() => dir.cleanup())

describe('--expires-in-days beyond the last representable date', () => {
  test('key create: refused with one line and exit 2, nothing written; key list keeps working', () => {
    const created = omnigate('key', 'create', '-n', 'acme', '--app', 'backend', '--expires-in-days', '999999999', '--json')
    const listed = omnigate('key', 'list', '-n', 'acme')
    expect(listed.stderr).toBe('')
    expect(listed.code).toBe(0)
    expect(listed.stdout).toBe('(none)\n')
    expect(created.code).toBe(2)
    expect(created.stderr.trim().split('\n')).toHaveLength(1)
    expect(created.stderr).toStartWith('error: --expires-in-days')
  }, 60_000)

  test('client create: refused with one line and exit 2, nothing written; client list keeps working', () => {
    const created = omnigate('client', 'create', '-n', 'acme', '--app', 'backend', '--expires-in-days', '999999999', '--json')
    const listed = omnigate('client', 'list', '-n', 'acme')
    expect(listed.stderr).toBe('')
    expect(listed.code).toBe(0)
    expect(listed.stdout).toBe('(none)\n')
    expect(created.code).toBe(2)
    expect(created.stderr).toStartWith('error: --expires-in-days')
  }, 60_000)
})

test('the domain refuses an expiry no date can show, naming expires_at; the keys still list', async () => {
  const gw = await startTestGateway()
  try {
    const acme = await gw.tenant('acme')
    const refused = await createApiKey(gw.deps, acme.namespaceId, { applicationId: acme.applicationId, expiresAt: Date.now() + 999_999_999 * 86_400_000 }).catch((e) => e)
    expect([refused.status, refused.errors]).toEqual([422, [{ field: 'expires_at', message: 'must be before the year 10000' }]])
    const res = await gw.call('GET', `/v1/namespaces/acme/apps/${acme.applicationId}/keys`, acme.key)
    expect(res.status).toBe(200)
  } finally {
    await gw.close()
  }
})

describe('--json revoke', () => {
  test('key revoke prints the revoked key as JSON', () => {
    const created = omnigate('--json', 'key', 'create', '-n', 'acme', '--app', 'backend')
    const { id } = JSON.parse(created.stdout) as { id: string }
    const revoked = omnigate('--json', 'key', 'revoke', id, '-n', 'acme')
    expect(revoked.code).toBe(0)
    expect(JSON.parse(revoked.stdout)).toMatchObject({ id, revoked_at: expect.any(String) })
  })

  test('client revoke prints the revoked client as JSON', () => {
    const created = omnigate('--json', 'client', 'create', '-n', 'acme', '--app', 'backend')
    const { client_id: clientId } = JSON.parse(created.stdout) as { client_id: string }
    const revoked = omnigate('--json', 'client', 'revoke', clientId, '-n', 'acme')
    expect(revoked.code).toBe(0)
    expect(JSON.parse(revoked.stdout)).toMatchObject({ client_id: clientId, revoked_at: expect.any(String) })
  })
})

describe('--json on the commands that answer with a sentence', () => {
  test('suppression add and remove, jobs run and migrate print JSON', () => {
    const json = (...args: string[]) => {
      const run = omnigate('--json', ...args)
      expect(run.stderr).toBe('')
      return JSON.parse(run.stdout) as unknown
    }
    expect(json('suppression', 'add', 'twilio-sms', '+15550001', '-n', 'acme')).toEqual({ suppressed: true, channel_type: 'twilio-sms', recipient: '+15550001' })
    expect(json('suppression', 'remove', 'twilio-sms', '+15550001', '-n', 'acme')).toEqual({ removed: true, channel_type: 'twilio-sms', recipient: '+15550001' })
    expect(json('jobs', 'run', 'retention')).toEqual({ job: 'retention', status: 'ok' })
    expect(json('migrate')).toEqual({ applied: [] })
  }, 60_000)
})
