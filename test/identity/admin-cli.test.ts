/**
 * `omnigate admin create` and `omnigate member …` as an operator runs them (real processes on a
 * config file), and the first admin created from `[admin]` / OMNIGATE_ADMIN_* on first start.
 * Logins are checked in-process on the same database.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { simpleParser } from 'mailparser'
import { configSchema } from '../../src/config'
import { openGateway } from '../../src/gateway'
import { createApp } from '../../src/http/app'
import { silentLogger } from '../../src/lib/log'
import { generateMasterKey } from '../../src/lib/secrets'
import { users } from '../../src/store/schema'
import { startSmtpSink, type SmtpSink } from '../fakes/smtp-server'
import { tempDir } from '../helpers/stores'

// Each CLI run starts a process, opens the store and may hash a password: about a second here.
const SLOW = 60_000

const MAIN = join(import.meta.dir, '..', '..', 'src', 'main.ts')
const masterKey = generateMasterKey()
let dir: ReturnType<typeof tempDir>
let sink: SmtpSink
const dbPath = () => join(dir.path, 'og.db')

function writeConfig(name: string, extra = ''): string {
  const path = join(dir.path, name)
  writeFileSync(path, `[database]\nurl = "file:${dbPath()}"\n\n[security]\nmaster_key = "\${TEST_MASTER_KEY}"\nallow_private_network = true\n${extra}`)
  return path
}

/** Runs the CLI as a child process (async: the SMTP server in this process must keep answering). */
async function omnigate(config: string, args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}) {
  const proc = Bun.spawn([process.execPath, MAIN, '--config', config, ...args], {
    cwd: dir.path,
    env: { PATH: process.env.PATH ?? '', TEST_MASTER_KEY: masterKey, ...opts.env },
    stdin: opts.stdin === undefined ? 'ignore' : Buffer.from(opts.stdin),
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  return { code, stdout, stderr }
}

/** Logs in against the same database, in-process, as the server would answer. */
async function loginStatus(email: string, password: string): Promise<number> {
  const config = configSchema.parse({ database: { url: `file:${dbPath()}` }, security: { master_key: masterKey } })
  const deps = await openGateway({ config, demo: false, log: silentLogger, migrate: false })
  try {
    const app = createApp(deps, { bodyLimitBytes: 1024 * 1024, log: silentLogger })
    const res = await app.request('/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) })
    return res.status
  } finally {
    await deps.store.close()
  }
}

async function instanceAdmins(): Promise<string[]> {
  const config = configSchema.parse({ database: { url: `file:${dbPath()}` }, security: { master_key: masterKey } })
  const deps = await openGateway({ config, demo: false, log: silentLogger, migrate: false })
  try {
    return (await deps.store.read.select().from(users)).filter((u) => u.instanceAdmin).map((u) => u.email)
  } finally {
    await deps.store.close()
  }
}

let plain: string
beforeAll(async () => {
  dir = tempDir()
  sink = await startSmtpSink()
  plain = writeConfig('plain.toml')
})
afterAll(async () => {
  await sink.stop()
  dir.cleanup()
})

describe('the first instance admin from [admin] on first start', () => {
  test('OMNIGATE_ADMIN_EMAIL and OMNIGATE_ADMIN_PASSWORD create one when there is none; later values change nothing', async () => {
    const env = { OMNIGATE_ADMIN_EMAIL: 'Boot@Example.com', OMNIGATE_ADMIN_PASSWORD: 'bootstrap password 1' }
    const first = await omnigate(plain, ['namespace', 'create', 'acme'], { env })
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    expect(await instanceAdmins()).toEqual(['boot@example.com'])
    expect(await loginStatus('boot@example.com', 'bootstrap password 1')).toBe(200)

    const again = await omnigate(plain, ['namespace', 'list'], { env: { ...env, OMNIGATE_ADMIN_PASSWORD: 'another password 22' } })
    expect(again.code).toBe(0)
    expect(await loginStatus('boot@example.com', 'bootstrap password 1')).toBe(200)
    expect(await loginStatus('boot@example.com', 'another password 22')).toBe(401)
  }, SLOW)

  test('an email without a password is one clear error naming the key', async () => {
    const res = await omnigate(plain, ['namespace', 'list'], { env: { OMNIGATE_ADMIN_EMAIL: 'half@example.com' } })
    expect(res.code).toBe(1)
    expect(res.stderr).toStartWith('error: admin.password: must be set together with admin.email')
  }, SLOW)
})

describe('omnigate admin create', () => {
  test('reads the password from standard input, never from an argument', async () => {
    const res = await omnigate(plain, ['admin', 'create', '--email', 'ops@example.com', '--name', 'Ops'], { stdin: 'operator password 1\n' })
    expect(res.stderr).toBe('')
    expect(res.code).toBe(0)
    expect(res.stdout).toMatch(/^created instance admin ops@example\.com \(usr_[0-9a-f]+\)\n$/)
    expect(res.stdout).not.toContain('operator password 1')
    expect(await loginStatus('ops@example.com', 'operator password 1')).toBe(200)
    expect(await instanceAdmins()).toContain('ops@example.com')
  }, SLOW)

  test('for an existing user: promotes them and sets the password given', async () => {
    const res = await omnigate(plain, ['admin', 'create', '--email', 'ops@example.com'], { stdin: 'operator password 2\r\n' })
    expect(res.code).toBe(0)
    expect(res.stdout).toStartWith('promoted instance admin ops@example.com')
    expect(await loginStatus('ops@example.com', 'operator password 2')).toBe(200)
  }, SLOW)

  test('no password on standard input, or a short one: a clear error, nothing created', async () => {
    const none = await omnigate(plain, ['admin', 'create', '--email', 'nopass@example.com'])
    expect(none.code).toBe(2)
    expect(none.stderr).toBe('error: no password on standard input (pipe it in, e.g. from a secrets manager)\n')
    const short = await omnigate(plain, ['admin', 'create', '--email', 'nopass@example.com'], { stdin: 'short\n' })
    expect(short.code).toBe(1)
    expect(short.stderr).toBe('error: password: must be at least 12 characters\n')
    expect(await instanceAdmins()).not.toContain('nopass@example.com')
  }, SLOW)
})

describe('omnigate member', () => {
  test('without [mail]: add creates the account (password from stdin), list shows it, remove takes it away', async () => {
    const added = await omnigate(plain, ['member', 'add', 'Dana@Example.com', '-n', 'acme', '--role', 'owner'], { stdin: 'dana password 123\n' })
    expect(added.stderr).toBe('')
    expect(added.stdout).toBe('created user and added dana@example.com to acme as owner\n')
    expect(await loginStatus('dana@example.com', 'dana password 123')).toBe(200)

    // An existing user is added as is: nothing read from stdin.
    expect((await omnigate(plain, ['member', 'add', 'ops@example.com', '-n', 'acme', '--role', 'viewer'])).stdout).toBe('added ops@example.com to acme as viewer\n')
    const twice = await omnigate(plain, ['member', 'add', 'ops@example.com', '-n', 'acme', '--role', 'admin'])
    expect(twice.code).toBe(1)
    expect(twice.stderr).toContain('already a member')

    const listed = await omnigate(plain, ['member', 'list', '-n', 'acme'])
    expect(listed.stdout).toMatch(/^EMAIL\s+ROLE/)
    expect(listed.stdout).toMatch(/dana@example\.com\s+owner/)
    expect(listed.stdout).toMatch(/ops@example\.com\s+viewer/)

    const bad = await omnigate(plain, ['member', 'add', 'x@example.com', '-n', 'acme', '--role', 'god'])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toBe('error: --role: must be one of owner, admin, developer, viewer\n')

    const last = await omnigate(plain, ['member', 'remove', 'dana@example.com', '-n', 'acme'])
    expect(last.code).toBe(1)
    expect(last.stderr).toContain('last owner')
    expect((await omnigate(plain, ['member', 'remove', 'ops@example.com', '-n', 'acme'])).stdout).toBe('removed ops@example.com from acme\n')
    expect((await omnigate(plain, ['member', 'list', '-n', 'acme'])).stdout).not.toContain('ops@example.com')
  }, SLOW)

  test('with [mail]: add mails an invitation whose link works', async () => {
    const withMail = writeConfig('mail.toml', `\n[mail]\nsmtp_url = "smtp://127.0.0.1:${sink.port}"\nfrom = "omnigate <noreply@gw.test>"\n`)
    const res = await omnigate(withMail, ['member', 'add', 'invitee@example.com', '-n', 'acme', '--role', 'developer'])
    expect(res.stderr).toBe('')
    expect(res.stdout).toStartWith('invited invitee@example.com to acme as developer; the link was mailed')
    const wire = sink.received.find((m) => m.rcptTo.includes('invitee@example.com'))!
    const token = ((await simpleParser(wire.raw)).text ?? '').match(/\/portal\/invite\?token=([\w-]+)/)![1]!

    const config = configSchema.parse({ database: { url: `file:${dbPath()}` }, security: { master_key: masterKey } })
    const deps = await openGateway({ config, demo: false, log: silentLogger, migrate: false })
    try {
      const app = createApp(deps, { bodyLimitBytes: 1024 * 1024, log: silentLogger })
      const accept = await app.request('/v1/auth/invitations/accept', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token, password: 'invitee password 1' }),
      })
      expect(accept.status).toBe(200)
    } finally {
      await deps.store.close()
    }
    expect((await omnigate(plain, ['member', 'list', '-n', 'acme'])).stdout).toMatch(/invitee@example\.com\s+developer/)
  }, SLOW)
})

describe('omnigate user', () => {
  test('list shows each account and its status; disable refuses sign-in, enable allows it again; the last enabled admin stays', async () => {
    const listed = await omnigate(plain, ['user', 'list'])
    expect(listed.stderr).toBe('')
    expect(listed.stdout).toMatch(/^EMAIL\s+STATUS\s+ADMIN\s+NAMESPACES/)
    expect(listed.stdout).toMatch(/dana@example\.com\s+active\s+acme \(owner\)/)

    const disabled = await omnigate(plain, ['user', 'disable', 'dana@example.com'])
    expect([disabled.code, disabled.stdout, disabled.stderr]).toEqual([0, 'dana@example.com is disabled\n', ''])
    expect(await loginStatus('dana@example.com', 'dana password 123')).toBe(401)
    expect((await omnigate(plain, ['user', 'list', '--email', 'dana'])).stdout).toMatch(/dana@example\.com\s+disabled/)
    const json = JSON.parse((await omnigate(plain, ['--json', 'user', 'enable', 'DANA@example.com'])).stdout) as { email: string; disabled: boolean }
    expect(json).toMatchObject({ email: 'dana@example.com', disabled: false })
    expect(await loginStatus('dana@example.com', 'dana password 123')).toBe(200)

    const unknown = await omnigate(plain, ['user', 'disable', 'nobody@example.com'])
    expect([unknown.code, unknown.stderr]).toEqual([1, 'error: no user "nobody@example.com"\n'])

    // Every admin but one may be disabled; the last enabled one may not.
    const admins = await instanceAdmins()
    expect(admins.length).toBeGreaterThan(1)
    for (const email of admins.slice(1)) expect((await omnigate(plain, ['user', 'disable', email])).code).toBe(0)
    const last = await omnigate(plain, ['user', 'disable', admins[0]!])
    expect([last.code, last.stderr]).toEqual([1, 'error: the last enabled instance admin cannot be disabled\n'])
    for (const email of admins.slice(1)) expect((await omnigate(plain, ['user', 'enable', email])).code).toBe(0)
  }, SLOW)
})
