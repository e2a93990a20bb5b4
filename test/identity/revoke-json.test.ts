/** `--json` is honoured by `key revoke` and `client revoke` (they printed a sentence, breaking `| jq`). */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateMasterKey } from '../../src/lib/secrets'
import { tempDir } from '../helpers/stores'

const MAIN = join(import.meta.dir, '..', '..', 'src', 'main.ts')
let dir: ReturnType<typeof tempDir>
let configPath: string
const masterKey = generateMasterKey()

function omnigate(...args: string[]) {
  const proc = Bun.spawnSync([process.execPath, MAIN, '--config', configPath, '--json', ...args], {
    cwd: dir.path,
    env: { PATH: process.env.PATH ?? '', TEST_MASTER_KEY: masterKey },
  })
  return { code: proc.exitCode, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() }
}

const parses = (text: string) => {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

beforeAll(() => {
  dir = tempDir()
  configPath = join(dir.path, 'omnigate.toml')
  writeFileSync(configPath, `[database]\nurl = "file:${join(dir.path, 'og.db')}"\n[security]\nmaster_key = "\${TEST_MASTER_KEY}"\n`)
  expect(omnigate('namespace', 'create', 'acme').code).toBe(0)
  expect(omnigate('app', 'create', 'backend', '-n', 'acme').code).toBe(0)
})
afterAll(() => dir.cleanup())

test('--json key revoke prints JSON', () => {
  const created = omnigate('key', 'create', '-n', 'acme', '--app', 'backend')
  expect(created.code).toBe(0)
  const { id } = JSON.parse(created.stdout) as { id: string }
  const revoked = omnigate('key', 'revoke', id, '-n', 'acme')
  expect(revoked.code).toBe(0)
  expect({ stdout: revoked.stdout, json: parses(revoked.stdout) }).toEqual({ stdout: revoked.stdout, json: true })
})

test('--json client revoke prints JSON', () => {
  const created = omnigate('client', 'create', '-n', 'acme', '--app', 'backend')
  expect(created.code).toBe(0)
  const { client_id } = JSON.parse(created.stdout) as { client_id: string }
  const revoked = omnigate('client', 'revoke', client_id, '-n', 'acme')
  expect(revoked.code).toBe(0)
  expect({ stdout: revoked.stdout, json: parses(revoked.stdout) }).toEqual({ stdout: revoked.stdout, json: true })
})
