/**
 * The CLI as a person uses it: real processes on a config file in a temp dir, asserting on what
 * they print and their exit codes.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateMasterKey } from '../src/lib/secrets'
import { tempDir } from './helpers/stores'

const MAIN = join(import.meta.dir, '..', 'src', 'main.ts')
let dir: ReturnType<typeof tempDir>
let configPath: string

function omnigate(...args: string[]) {
  const proc = Bun.spawnSync([process.execPath, MAIN, '--config', configPath, ...args], {
    cwd: dir.path,
    env: { PATH: process.env.PATH ?? '', TEST_MASTER_KEY: generatedKey },
  })
  return { code: proc.exitCode, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() }
}

const generatedKey = generateMasterKey()
beforeAll(() => {
  dir = tempDir()
  configPath = join(dir.path, 'omnigate.toml')
  writeFileSync(
    configPath,
    `[database]\nurl = "file:${join(dir.path, 'og.db')}"\n\n[security]\nmaster_key = "\${TEST_MASTER_KEY}"\nallow_private_network = true\n`,
  )
})
afterAll(() => dir.cleanup())

describe('omnigate CLI', () => {
  let apiKey = ''
  let keyId = ''
  let messageId = ''

  test('namespace create and list', () => {
    const created = omnigate('namespace', 'create', 'acme', '--name', 'Acme Inc')
    expect(created.stderr).toBe('')
    expect(created.code).toBe(0)
    expect(created.stdout).toMatch(/^created namespace acme \(ns_[0-9a-f]+\)\n$/)
    const listed = omnigate('namespace', 'list')
    expect(listed.stdout).toContain('SLUG')
    expect(listed.stdout).toMatch(/acme\s+Acme Inc\s+active/)
  })

  test('a bad slug is one clear line naming the field, exit 1', () => {
    const bad = omnigate('namespace', 'create', 'Not A Slug')
    expect(bad.code).toBe(1)
    expect(bad.stdout).toBe('')
    expect(bad.stderr.trim().split('\n')).toHaveLength(1)
    expect(bad.stderr).toStartWith('error: slug: ')
  })

  test('app create, key create prints the key once, key list never shows it', () => {
    expect(omnigate('app', 'create', 'backend', '-n', 'acme').code).toBe(0)
    const created = omnigate('key', 'create', '-n', 'acme', '--app', 'backend', '--name', 'ci', '--scopes', 'messages:send,messages:read')
    expect(created.code).toBe(0)
    apiKey = created.stdout.match(/og_live_[A-Za-z0-9_-]{32}/)![0]
    keyId = created.stdout.match(/key_[0-9a-f]+/)![0]
    const listed = omnigate('key', 'list', '-n', 'acme')
    expect(listed.stdout).toContain(keyId)
    expect(listed.stdout).not.toContain(apiKey)
    expect(listed.stdout).toContain(`og_live_${apiKey.slice(8, 20)}…`)
  })

  test('an unknown scope is refused, naming it', () => {
    const bad = omnigate('key', 'create', '-n', 'acme', '--app', 'backend', '--scopes', 'messages:send,root')
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('scopes.1: unknown scope "root"')
  })

  test('channel add, list and test; secrets are masked', () => {
    expect(omnigate('channel', 'add', 'sandbox', '-n', 'acme', '--type', 'sandbox').code).toBe(0)
    const hook = omnigate(
      'channel', 'add', 'hook', '-n', 'acme', '--type', 'http',
      '--set', 'url=http://127.0.0.1:9/hook', '--config-json', '{"headers":{"authorization":"Bearer topsecretvalue"}}',
    )
    expect(hook.stderr).toBe('')
    expect(hook.stdout).toMatch(/created channel hook \(http, ch_/)
    const listed = omnigate('channel', 'list', '-n', 'acme')
    expect(listed.stdout).toMatch(/sandbox\s+sandbox\s+active/)
    expect(listed.stdout).not.toContain('topsecretvalue')
    const tested = omnigate('channel', 'test', 'sandbox', '-n', 'acme')
    expect(tested.stdout.trim()).toBe('ok')
  })

  test('an invalid channel config names the field', () => {
    const bad = omnigate('channel', 'add', 'broken', '-n', 'acme', '--type', 'http', '--set', 'url=ftp://example.com')
    expect(bad.code).toBe(1)
    expect(bad.stderr).toStartWith('error: config.url: ')
    const unknownType = omnigate('channel', 'add', 'x', '-n', 'acme', '--type', 'carrier-pigeon')
    expect(unknownType.stderr).toContain('type: unknown channel type "carrier-pigeon"')
  })

  test('send queues a message; messages list and show read it back', () => {
    const sent = omnigate('send', '-n', 'acme', '--channel', 'sandbox', '--to', 'alice@example.com', '--text', 'hi', '--metadata', 'order=7')
    expect(sent.code).toBe(0)
    messageId = sent.stdout.match(/msg_[0-9a-f]+/)![0]
    expect(sent.stdout.trim()).toBe(`${messageId} queued`)
    const listed = omnigate('messages', 'list', '-n', 'acme')
    expect(listed.stdout).toMatch(new RegExp(`${messageId}\\s+queued\\s+sandbox\\s+alice@example.com`))
    const shown = omnigate('messages', 'show', messageId, '-n', 'acme')
    expect(shown.stdout).toContain(`${messageId}  queued  sandbox (sandbox)  to alice@example.com`)
    const json = JSON.parse(omnigate('--json', 'messages', 'show', messageId, '-n', 'acme').stdout)
    expect(json.metadata).toEqual({ order: '7' })
  })

  test('send with bad input names each field', () => {
    const bad = omnigate('send', '-n', 'acme', '--channel', 'nope', '--to', 'x', '--text', 'hi', '--send-at', 'tomorrow')
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('error: send_at: ')
    const noChannel = omnigate('send', '-n', 'acme', '--channel', 'nope', '--to', 'x', '--text', 'hi')
    expect(noChannel.stderr).toContain('error: channel: no channel "nope"')
  })

  test('suppression add, list and remove', () => {
    expect(omnigate('suppression', 'add', 'sandbox', 'Eve@Example.com', '-n', 'acme', '--detail', 'asked').stdout.trim()).toBe(
      'suppressed Eve@Example.com on sandbox channels',
    )
    expect(omnigate('suppression', 'list', '-n', 'acme').stdout).toMatch(/sandbox\s+eve@example.com\s+manual/)
    expect(omnigate('suppression', 'remove', 'sandbox', 'eve@example.com', '-n', 'acme').code).toBe(0)
    const again = omnigate('suppression', 'remove', 'sandbox', 'eve@example.com', '-n', 'acme')
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('is not suppressed')
  })

  test('webhook add, list, deliveries and replay', () => {
    const added = omnigate('webhook', 'add', 'http://127.0.0.1:9/hook', '-n', 'acme', '--events', 'message.delivered,message.failed')
    expect(added.code).toBe(0)
    expect(added.stdout).toMatch(/whsec_[A-Za-z0-9+/]+=*/)
    const id = added.stdout.match(/wh_[0-9a-f]+/)![0]
    const listed = omnigate('webhook', 'list', '-n', 'acme')
    expect(listed.stdout).toContain(id)
    expect(listed.stdout).toContain('message.delivered,message.failed')
    expect(listed.stdout).not.toContain('whsec_')
    expect(omnigate('webhook', 'deliveries', id, '-n', 'acme').stdout.trim()).toBe('(none)')
    expect(omnigate('webhook', 'replay', id, '--since', '2026-01-01T00:00:00Z', '-n', 'acme').stdout.trim()).toBe('queued 0 deliveries again')
    const bad = omnigate('webhook', 'add', 'http://127.0.0.1:9/hook', '-n', 'acme', '--events', 'message.nope')
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('event_types.0: unknown event type')
  })

  test('key revoke', () => {
    const revoked = omnigate('key', 'revoke', keyId, '-n', 'acme')
    expect(revoked.stdout.trim()).toBe(`revoked API key ${keyId}`)
    expect(omnigate('key', 'list', '-n', 'acme').stdout).toMatch(new RegExp(`${keyId}.*\\d{4}-\\d{2}-\\d{2}T`))
    const missing = omnigate('key', 'revoke', 'key_nope', '-n', 'acme')
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('API key "key_nope" does not exist')
  })

  test('an unknown namespace is a one-line error', () => {
    const res = omnigate('channel', 'list', '-n', 'ghost')
    expect(res.code).toBe(1)
    expect(res.stderr.trim()).toBe('error: namespace "ghost" does not exist')
  })

  test('config check prints every error with its key path and exits non-zero', () => {
    const bad = join(dir.path, 'bad.toml')
    writeFileSync(bad, '[server]\nlisten = "nowhere"\nbogus = 1\n\n[engine]\nbatch_size = 0\n')
    const res = omnigate('config', 'check', bad)
    expect(res.code).toBe(1)
    expect(res.stderr).toContain('server.listen')
    expect(res.stderr).toContain('server.bogus')
    expect(res.stderr).toContain('engine.batch_size')
    const ok = omnigate('config', 'check', configPath)
    expect(ok.code).toBe(0)
    expect(ok.stdout.trim()).toBe(`${configPath}: ok`)
  })

  test('migrate on a current database says so', () => {
    const res = omnigate('migrate')
    expect(res.code).toBe(0)
    expect(res.stdout.trim()).toBe('database is up to date')
  })

  test('a missing --config file is a one-line error, not demo mode', () => {
    const proc = Bun.spawnSync([process.execPath, MAIN, '--config', join(dir.path, 'nope.toml'), 'namespace', 'list'], { cwd: dir.path })
    expect(proc.exitCode).not.toBe(0)
    expect(proc.stderr.toString()).toContain('file not found')
  })
})
