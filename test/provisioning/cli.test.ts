/**
 * Operators provision, export and delete tenants from the command line: real processes on a
 * config file, asserting on what a person reads.
 */
import { Database } from 'bun:sqlite'
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { simpleParser } from 'mailparser'
import { generateMasterKey } from '../../src/lib/secrets'
import { startSmtpSink, type SmtpSink } from '../fakes/smtp-server'
import { eventually } from '../helpers/gateway'
import { tempDir } from '../helpers/stores'

const MAIN = join(import.meta.dir, '..', '..', 'src', 'main.ts')
// Each command is a fresh process that opens the store and hashes with real argon2 cost.
const CLI_TIMEOUT_MS = 30_000
let dir: ReturnType<typeof tempDir>
let sink: SmtpSink
const masterKey = generateMasterKey()

function configFile(name: string, extra = ''): string {
  const path = join(dir.path, name)
  writeFileSync(
    path,
    `[database]\nurl = "file:${join(dir.path, 'og.db')}"\n\n[security]\nmaster_key = "${masterKey}"\n\n[retention]\npurge_grace_days = 0\n${extra}`,
  )
  return path
}

let plain = ''
let withMail = ''
/** Runs the CLI without blocking this process: the SMTP sink the CLI mails must keep answering. */
async function omnigate(config: string, args: string[], stdin?: string) {
  const proc = Bun.spawn([process.execPath, MAIN, '--config', config, ...args], {
    cwd: dir.path,
    env: { PATH: process.env.PATH ?? '' },
    stdin: stdin === undefined ? 'ignore' : Buffer.from(stdin),
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  return { code, stdout, stderr }
}

beforeAll(async () => {
  dir = tempDir()
  sink = await startSmtpSink()
  plain = configFile('plain.toml')
  withMail = configFile('mail.toml', `\n[mail]\nsmtp_url = "smtp://127.0.0.1:${sink.port}"\nfrom = "omnigate <noreply@gw.test>"\n`)
})
afterAll(async () => {
  await sink.stop()
  dir.cleanup()
})

describe('omnigate namespace create --plan --owner', async () => {
  test('an owner without an account and no mail: the password comes from stdin; the key is printed once', async () => {
    const res = await omnigate(plain, ['namespace', 'create', 'acme', '--plan', 'pro', '--owner', 'ops@acme.test'], 'ops password 12345\n')
    expect(res.stderr).toBe('')
    expect(res.code).toBe(0)
    const lines = res.stdout.trim().split('\n')
    expect(lines[0]).toBe('provisioned namespace acme (plan pro) with channel sandbox and application default')
    expect(lines[1]).toBe('its API key, shown only now:')
    expect(lines[2]).toMatch(/^og_live_[\w-]{32}$/)
    const members = await omnigate(plain, ['member', 'list', '-n', 'acme'])
    expect(members.stdout).toMatch(/ops@acme\.test\s+owner/)
    expect((await omnigate(plain, ['channel', 'list', '-n', 'acme'])).stdout).toContain('sandbox')
  }, CLI_TIMEOUT_MS)

  test('an existing owner, the default plan; --json shows the job', async () => {
    const res = await omnigate(plain, ['--json', 'namespace', 'create', 'globex', '--owner', 'ops@acme.test'])
    expect(res.code).toBe(0)
    const body = JSON.parse(res.stdout) as { namespace: string; status: string; plan: string; api_key: string; invited_owner: string | null }
    expect(body).toMatchObject({ namespace: 'globex', status: 'ready', plan: 'free', invited_owner: null })
    expect(body.api_key).toMatch(/^og_live_/)
  }, CLI_TIMEOUT_MS)

  test('an owner without an account, with mail: invited as owner by mail', async () => {
    const before = sink.received.length
    const res = await omnigate(withMail, ['namespace', 'create', 'initech', '--owner', 'boss@initech.test'])
    expect(res.stderr).toBe('')
    expect(res.code).toBe(0)
    expect(res.stdout).toContain('invited boss@initech.test as owner; the link was mailed')
    const wire = await eventually(async () => sink.received.slice(before).find((m) => m.rcptTo.includes('boss@initech.test')))
    const mail = await simpleParser(wire.raw)
    expect(mail.subject).toContain('Invitation')
    expect(mail.text).toContain('as owner')
    expect(mail.text).toContain('/portal/invite?token=')
  }, CLI_TIMEOUT_MS)

  test('mistakes are one line naming the option: unknown plan, taken or bad slug', async () => {
    const plan = await omnigate(plain, ['namespace', 'create', 'hooli', '--plan', 'platinum', '--owner', 'ops@acme.test'])
    expect(plan.code).toBe(1)
    expect(plan.stderr).toBe('error: plan: unknown plan "platinum" (known: free, pro)\n')
    const taken = await omnigate(plain, ['namespace', 'create', 'acme', '--plan', 'pro'])
    expect(taken.code).toBe(1)
    expect(taken.stderr).toStartWith('error: slug: "acme" is taken')
    const bad = await omnigate(plain, ['namespace', 'create', 'Bad Slug', '--plan', 'pro'])
    expect(bad.stderr).toStartWith('error: slug: ')
  }, CLI_TIMEOUT_MS)

  test('provisioning list shows the jobs', async () => {
    const res = await omnigate(plain, ['provisioning', 'list'])
    expect(res.code).toBe(0)
    expect(res.stdout).toMatch(/acme\s+ready\s+done\s+pro/)
    expect(res.stdout).toMatch(/globex\s+ready\s+done\s+free/)
  }, CLI_TIMEOUT_MS)
})

describe('omnigate namespace export | delete | restore, provisioning purge', async () => {
  test('export writes NDJSON to stdout, one row a line with its table, and nothing else', async () => {
    const res = await omnigate(plain, ['namespace', 'export', 'acme'])
    expect(res.code).toBe(0)
    const rows = res.stdout.trim().split('\n').map((l) => JSON.parse(l) as { table: string })
    expect(rows[0]).toMatchObject({ table: 'namespaces', slug: 'acme', plan: 'pro' })
    const tables = new Set(rows.map((r) => r.table))
    for (const t of ['channels', 'applications', 'api_keys', 'memberships', 'provisioning_jobs', 'users']) expect(tables.has(t)).toBe(true)
    expect(res.stdout).not.toContain('"hash"')
    expect(res.stderr).toMatch(/^exported \d+ rows from \d+ tables\n$/)
  }, CLI_TIMEOUT_MS)

  test('export into a reader that stops early (| head): ends at once, quietly, without a stack trace', async () => {
    // Enough rows to overflow the pipe's buffer many times over.
    const db = new Database(join(dir.path, 'og.db'))
    try {
      const { id } = db.query("SELECT id FROM namespaces WHERE slug = 'acme'").get() as { id: string }
      const insert = db.prepare("INSERT INTO message_rollups (namespace_id, granularity, bucket_start, channel_id, application_id, direction, status, count) VALUES (?, 'minute', ?, 'ch_x', '', 'outbound', 'sent', 1)")
      db.transaction(() => {
        for (let i = 0; i < 20_000; i++) insert.run(id, i * 60_000)
      })()
    } finally {
      db.close()
    }
    const proc = Bun.spawn(['sh', '-c', `"${process.execPath}" "${MAIN}" --config "${plain}" namespace export acme | head -n 2`], {
      cwd: dir.path,
      env: { PATH: process.env.PATH ?? '' },
      stdout: 'pipe',
      stderr: 'pipe',
    })
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
    expect(code).toBe(0)
    expect(stdout.trim().split('\n').map((l) => (JSON.parse(l) as { table: string }).table)).toHaveLength(2)
    expect(stderr).not.toContain('EPIPE')
    expect(stderr).not.toMatch(/\bat .*\.ts:\d+/)
  }, CLI_TIMEOUT_MS)

  test('delete disables, restore undoes it, and the purge (grace 0 days here) removes it', async () => {
    const deleted = await omnigate(plain, ['namespace', 'delete', 'globex'])
    expect(deleted.code).toBe(0)
    expect(deleted.stdout).toMatch(/^namespace globex is disabled; its data is purged after \d{4}-\d\d-\d\dT/)
    expect((await omnigate(plain, ['namespace', 'list'])).stdout).toMatch(/globex\s+globex\s+disabled/)
    expect((await omnigate(plain, ['namespace', 'restore', 'globex'])).stdout).toBe('namespace globex is active\n')
    expect((await omnigate(plain, ['namespace', 'delete', 'globex'])).code).toBe(0)
    const purged = await omnigate(plain, ['provisioning', 'purge'])
    expect(purged.code).toBe(0)
    expect(purged.stdout).toMatch(/^purged globex \(\d+ rows\)\n$/)
    expect((await omnigate(plain, ['namespace', 'list'])).stdout).not.toContain('globex')
    expect((await omnigate(plain, ['provisioning', 'purge'])).stdout).toBe('nothing to purge\n')
  }, CLI_TIMEOUT_MS)
})
