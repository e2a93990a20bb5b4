/**
 * `omnigate config check FILE`, what an operator runs in CI before deploying: a file it calls
 * "ok" is not refused by `serve` for a reason visible in the file alone (a missing master key, a
 * declared channel of an unknown type or without its url, mail without a sender all passed).
 */
import { afterAll, expect, test } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateMasterKey } from '../src/lib/secrets'
import { tempDir } from './helpers/stores'
import { keyedConfig, runCli } from './helpers/cli'

const dir = tempDir()
afterAll(() => dir.cleanup())

const omnigate = (...args: string[]) => runCli(args, { cwd: dir.path, masterKey: generateMasterKey() })

function file(name: string, toml: string): string {
  const path = join(dir.path, name)
  writeFileSync(path, toml)
  return path
}

test('a config file without security.master_key fails config check, as it fails serve', () => {
  const path = file('no-key.toml', `[database]\nurl = "file:${join(dir.path, 'a.db')}"\n`)
  const served = omnigate('--config', path, 'serve', '--listen', '127.0.0.1:0')
  expect(served.code).toBe(1)
  expect(served.stderr).toContain('security.master_key is not set')
  const checked = omnigate('config', 'check', path)
  expect(checked.stdout).not.toContain(': ok')
  expect(checked.code).toBe(1)
  expect(checked.stderr).toContain('security.master_key')
})


test.each([
  ['a declared channel of an unknown type', 'namespaces[0].channels[0].type', `[[namespaces]]\nslug = "acme"\n[[namespaces.channels]]\nname = "sms"\ntype = "twilio"\n`],
  ['an http channel without its url', 'namespaces[0].channels[0].config.url', `[[namespaces]]\nslug = "acme"\n[[namespaces.channels]]\nname = "hook"\ntype = "http"\n`],
  ['mail.smtp_url without mail.from', 'mail.from', `[mail]\nsmtp_url = "smtp://mail.example.com:587"\n`],
])('%s fails config check, as it fails serve', (_what, key, extra) => {
  const db = join(dir.path, `${key.replace(/\W/g, '_')}.db`)
  const path = file(`${key.replace(/\W/g, '_')}.toml`, keyedConfig(db, extra))
  const served = omnigate('--config', path, 'serve', '--listen', '127.0.0.1:0')
  expect(served.code).toBe(1)
  expect(served.stderr).toContain(key)
  const checked = omnigate('config', 'check', path)
  expect(checked.stdout).not.toContain(': ok')
  expect(checked.code).toBe(1)
  expect(checked.stderr).toContain(key)
})
