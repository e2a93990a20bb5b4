/** `--json` is honoured by `key revoke` and `client revoke` (they printed a sentence, breaking `| jq`). */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateMasterKey } from '../../src/lib/secrets'
import { tempDir } from '../helpers/stores'
import { keyedConfig, runCli } from '../helpers/cli'

let dir: ReturnType<typeof tempDir>
let configPath: string
const masterKey = generateMasterKey()

const omnigate = (...args: string[]) => runCli(['--config', configPath, '--json', ...args], { cwd: dir.path, masterKey })

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
  writeFileSync(configPath, keyedConfig(join(dir.path, 'og.db')))
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
