/**
 * The compiled binary, as a user runs it: built once per run into a temp dir (scripts/build.ts),
 * copied alone into an empty directory (no node_modules, no config), started as a child process
 * on a free loopback port, driven over HTTP, stopped with SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { type HttpReceiver, startHttpReceiver } from './fakes/http-receiver'
import { startSmtpSink } from './fakes/smtp-server'
import { freePort } from './helpers/start'

const ROOT = resolve(import.meta.dir, '..')
const STOP_TIMEOUT_MS = 10_000

const tempDirs: string[] = []
const running = new Set<Binary>()
const receivers: HttpReceiver[] = []
let builtBinary = ''

function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  tempDirs.push(dir)
  return dir
}

/** An empty directory holding nothing but a copy of the binary. */
function installBinary(): string {
  const dir = makeTempDir('omnigate-bin-run-')
  copyFileSync(builtBinary, join(dir, 'omnigate'))
  chmodSync(join(dir, 'omnigate'), 0o755)
  return dir
}

/** Only what the binary needs; nothing from the test runner's environment leaks in. */
function cleanEnv(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, TZ: 'UTC', ...extra }
}

interface Binary {
  proc: ReturnType<typeof Bun.spawn>
  url: string
  stdout(): string
  stderr(): string
  /** SIGTERM, then the exit code; throws if the process is still alive after `ms`. */
  stop(ms?: number): Promise<number | null>
}

/** Collects a child's stream into a string as it arrives. */
function collect(stream: ReadableStream<Uint8Array>): { text: () => string; done: Promise<void> } {
  let text = ''
  const decoder = new TextDecoder()
  const done = (async () => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true })
    text += decoder.decode()
  })()
  return { text: () => text, done }
}

function startBinary(dir: string, args: string[], env: Record<string, string> = {}): Binary {
  const port = freePort()
  const proc = Bun.spawn(['./omnigate', ...args, '--listen', `127.0.0.1:${port}`], {
    cwd: dir,
    env: cleanEnv(dir, env),
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const out = collect(proc.stdout as ReadableStream<Uint8Array>)
  const err = collect(proc.stderr as ReadableStream<Uint8Array>)
  const binary: Binary = {
    proc,
    url: `http://127.0.0.1:${port}`,
    stdout: out.text,
    stderr: err.text,
    async stop(ms = STOP_TIMEOUT_MS) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM')
      const timer = Bun.sleep(ms).then(() => 'timeout' as const)
      const outcome = await Promise.race([proc.exited, timer])
      if (outcome === 'timeout') {
        throw new Error(`omnigate did not exit within ${ms} ms of SIGTERM\nstderr:\n${err.text()}`)
      }
      await Promise.all([out.done, err.done])
      running.delete(binary)
      return proc.exitCode
    },
  }
  running.add(binary)
  return binary
}

/** Polls until `check` returns a truthy value; the error carries the binary's output. */
async function waitFor<T>(what: string, bin: Binary | null, check: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (bin && bin.proc.exitCode !== null) {
      throw new Error(`${what}: omnigate exited with ${bin.proc.exitCode}\nstdout:\n${bin.stdout()}\nstderr:\n${bin.stderr()}`)
    }
    const value = await check().catch(() => undefined)
    if (value) return value
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${timeoutMs} ms${bin ? `\nstdout:\n${bin.stdout()}\nstderr:\n${bin.stderr()}` : ''}`)
    }
    await Bun.sleep(50)
  }
}

function ready(bin: Binary): Promise<true> {
  return waitFor('GET /readyz answers 200', bin, async () => (await fetch(`${bin.url}/readyz`)).status === 200 || false)
}

function api(bin: Binary, key: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${bin.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
}

async function messageStatus(bin: Binary, key: string, ns: string, id: string): Promise<any> {
  const res = await api(bin, key, 'GET', `/v1/namespaces/${ns}/messages/${id}`)
  if (res.status !== 200) throw new Error(`GET message: ${res.status} ${await res.text()}`)
  return res.json()
}

function randomToken(chars: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
  const bytes = crypto.getRandomValues(new Uint8Array(chars))
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('')
}

/**
 * A directory with the binary and an omnigate.toml declaring namespace "acme" with `channels`
 * (TOML) and an application key; the environment the binary needs for it, and the key.
 */
function acmeInstall(channels: string, extra = ''): { dir: string; env: Record<string, string>; key: string } {
  const dir = installBinary()
  const env = { TEST_MASTER_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64'), ACME_KEY: randomToken(32) }
  writeFileSync(
    join(dir, 'omnigate.toml'),
    `${extra}
[security]
master_key = "\${TEST_MASTER_KEY}"
allow_private_network = true

[engine]
poll_interval_ms = 50

[[namespaces]]
slug = "acme"
name = "ACME Corp"

${channels.trim()}

[[namespaces.applications]]
name = "billing"

[[namespaces.applications.api_keys]]
key = "og_live_\${ACME_KEY}"
name = "test"
`,
  )
  return { dir, env, key: `og_live_${env.ACME_KEY}` }
}

beforeAll(
  () => {
    // Always a fresh build into a temp dir: never tests a stale dist/omnigate, never races a
    // concurrent `bun run build`. The build script also checks for native modules.
    const out = makeTempDir('omnigate-bin-build-')
    builtBinary = join(out, 'omnigate')
    const build = Bun.spawnSync([process.execPath, join(ROOT, 'scripts', 'build.ts'), '--outfile', builtBinary, '--quiet'], {
      cwd: ROOT,
      stdout: 'pipe',
      stderr: 'pipe',
    })
    if (build.exitCode !== 0 || !existsSync(builtBinary)) {
      throw new Error(`bun scripts/build.ts failed (${build.exitCode}):\n${build.stdout.toString()}\n${build.stderr.toString()}`)
    }
  },
  { timeout: 120_000 },
)

afterAll(async () => {
  for (const bin of running) {
    bin.proc.kill('SIGKILL')
    await bin.proc.exited
  }
  running.clear()
  for (const receiver of receivers) await receiver.stop()
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
})

describe('the compiled binary', () => {
  test('demo mode: sends through the sandbox, serves the docs, stops cleanly, keeps its data', async () => {
    const dir = installBinary()
    expect(readdirSync(dir)).toEqual(['omnigate'])

    // First start: demo namespace, channel and a key printed once on stdout.
    const first = startBinary(dir, ['serve'])
    const key = await waitFor('the demo API key on stdout', first, async () => first.stdout().match(/^ {2}OMNIGATE_API_KEY=(og_live_\S+)$/m)?.[1])
    await ready(first)

    const sent = await api(first, key, 'POST', '/v1/namespaces/demo/messages', {
      channel: 'sandbox',
      to: 'alice@example.com',
      content: { text: 'hi' },
    })
    expect(sent.status).toBe(202)
    const { id } = (await sent.json()) as { id: string }
    expect(id).toStartWith('msg_')
    const delivered = await waitFor('the message is delivered', first, async () => {
      const m = await messageStatus(first, key, 'demo', id)
      return m.status === 'delivered' && m
    })
    expect(delivered.to).toBe('alice@example.com')

    // Swagger UI and its assets are embedded, not read from node_modules.
    const docs = await fetch(`${first.url}/docs`)
    expect(docs.status).toBe(200)
    expect(docs.headers.get('content-type')).toStartWith('text/html')
    expect(await docs.text()).toContain('/docs/swagger-ui-bundle.js')
    const bundle = await fetch(`${first.url}/docs/swagger-ui-bundle.js`)
    expect(bundle.status).toBe(200)
    expect(bundle.headers.get('content-type')).toContain('javascript')
    const js = await bundle.text()
    expect(js.length).toBeGreaterThan(100_000)
    expect(js).toContain('SwaggerUIBundle')
    expect((await fetch(`${first.url}/docs/swagger-ui.css`)).status).toBe(200)

    expect(await first.stop()).toBe(0)
    expect(first.proc.signalCode).toBeNull()

    // The demo master key was generated once, readable by this user only.
    const masterKey = join(dir, 'data', 'master.key')
    expect(existsSync(masterKey)).toBe(true)
    expect(statSync(masterKey).mode & 0o777).toBe(0o600)
    expect(existsSync(join(dir, 'data', 'omnigate.db'))).toBe(true)

    // Second start on the same directory: no new key, the message is still there.
    const second = startBinary(dir, ['serve'])
    await ready(second)
    await waitFor('the "listening" line on stdout', second, async () => second.stdout().includes('omnigate listening on'))
    expect(second.stdout()).not.toContain('OMNIGATE_API_KEY')
    const again = await messageStatus(second, key, 'demo', id)
    expect(again.id).toBe(id)
    expect(again.status).toBe('delivered')
    expect(await second.stop()).toBe(0)
  })

  test('config file: declared namespace, application key and http channel to a local receiver', async () => {
    const receiver = startHttpReceiver()
    receivers.push(receiver)
    const { dir, env, key } = acmeInstall(`
[[namespaces.channels]]
name = "ops-webhook"
type = "http"
config = { url = "${receiver.url}hook", timeout_ms = 5000 }
`)

    const check = Bun.spawnSync(['./omnigate', 'config', 'check', 'omnigate.toml'], {
      cwd: dir,
      env: cleanEnv(dir, env),
    })
    expect(check.stderr.toString()).toBe('')
    expect(check.exitCode).toBe(0)

    const bin = startBinary(dir, ['serve', '--config', 'omnigate.toml'], env)
    await ready(bin)

    const sent = await api(bin, key, 'POST', '/v1/namespaces/acme/messages', {
      channel: 'ops-webhook',
      to: 'ops',
      content: { text: 'disk almost full' },
      metadata: { ticket: '42' },
    })
    expect(sent.status).toBe(202)
    const { id } = (await sent.json()) as { id: string }

    const message = await waitFor('the message is sent', bin, async () => {
      const m = await messageStatus(bin, key, 'acme', id)
      return m.status === 'sent' && m
    })
    expect(message.channel).toBeDefined()

    expect(receiver.received).toHaveLength(1)
    const request = receiver.received[0]
    expect(request.method).toBe('POST')
    expect(request.path).toBe('/hook')
    expect(request.headers['content-type']).toStartWith('application/json')
    expect(request.headers['idempotency-key']).toBe(id)
    expect(request.body).toMatchObject({
      id,
      namespace: 'acme',
      channel: 'ops-webhook',
      to: 'ops',
      content: { text: 'disk almost full' },
      metadata: { ticket: '42' },
    })

    // Not demo mode: no key printed, no master key file written.
    expect(bin.stdout()).not.toContain('OMNIGATE_API_KEY')
    expect(await bin.stop()).toBe(0)
    expect(existsSync(join(dir, 'data', 'master.key'))).toBe(false)
    // The receiver's first answer is final: no retry after the message was sent.
    expect(receiver.received).toHaveLength(1)
  })

  test('code loaded on first use is in the binary: an e-mail over SMTP (nodemailer), the portal, /docs, /metrics', async () => {
    const smtp = await startSmtpSink()
    try {
      const { dir, env, key } = acmeInstall(`
[[namespaces.channels]]
name = "mail"
type = "smtp"
config = { host = "127.0.0.1", port = ${smtp.port}, starttls = "never", pool = false }

[[namespaces.channels.terminals]]
address = "noreply@acme.example"
`)
      const bin = startBinary(dir, ['serve', '--config', 'omnigate.toml'], env)
      await ready(bin)
      const sent = await api(bin, key, 'POST', '/v1/namespaces/acme/messages', { channel: 'mail', to: 'grace@example.com', content: { subject: 'Your code', text: 'It is 123456.' } })
      expect(sent.status).toBe(202)
      const { id } = (await sent.json()) as { id: string }
      const message = await waitFor('the e-mail is sent', bin, async () => {
        const m = await messageStatus(bin, key, 'acme', id)
        return (m.status === 'sent' || m.status === 'failed') && m
      })
      expect([message.status, message.error]).toEqual(['sent', null])
      expect(smtp.received).toHaveLength(1)
      expect(smtp.received[0]!.rcptTo).toEqual(['grace@example.com'])
      expect(smtp.received[0]!.raw.toString()).toContain('Subject: Your code')
      expect(smtp.received[0]!.raw.toString()).toContain('It is 123456.')
      for (const [path, type] of [['/portal/login', 'text/html'], ['/docs/swagger-ui-bundle.js', 'javascript'], ['/metrics', 'text/plain']]) {
        const res = await fetch(`${bin.url}${path}`)
        expect([path, res.status]).toEqual([path, 200])
        expect(res.headers.get('content-type')).toContain(type)
        expect((await res.text()).length).toBeGreaterThan(100)
      }
      expect(await bin.stop()).toBe(0)
    } finally {
      await smtp.stop()
    }
  })

  test('the WAL checkpoint thread runs in the binary once the store is written to in earnest', async () => {
    const { dir, env, key } = acmeInstall(
      `
[[namespaces.channels]]
name = "sb"
type = "sandbox"
`,
      `[admin]\nemail = "ops@example.com"\npassword = "\${ADMIN_PASSWORD}"\n`,
    )
    const bin = startBinary(dir, ['serve', '--config', 'omnigate.toml'], { ...env, ADMIN_PASSWORD: 'binary admin password' })
    await ready(bin)
    const login = await fetch(`${bin.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'ops@example.com', password: 'binary admin password' }) })
    expect(login.status).toBe(200)
    const admin = ((await login.json()) as { access_token: string }).access_token
    const checkpoints = async () => ((await (await api(bin, admin, 'GET', '/v1/system')).json()) as { store: { checkpoints: { thread: string; runs: number; error: string | null } } }).store.checkpoints
    expect((await checkpoints()).thread).toBe('not started')
    // One commit per send: past the hundred after which checkpoints move to their thread.
    for (let i = 0; i < 120; i++) {
      const res = await api(bin, key, 'POST', '/v1/namespaces/acme/messages', { channel: 'sb', to: `u${i}@example.com`, content: { text: 'hi' } })
      expect(res.status).toBe(202)
    }
    const state = await waitFor('a checkpoint on the thread', bin, async () => {
      const c = await checkpoints()
      return c.runs > 0 && c
    })
    expect(state).toMatchObject({ thread: 'running', error: null })
    expect(await bin.stop()).toBe(0)
  })

  test('config check names the bad key and exits non-zero', () => {
    const dir = installBinary()
    writeFileSync(join(dir, 'bad.toml'), '[engine]\nbatch_size = 0\n')
    const check = Bun.spawnSync(['./omnigate', 'config', 'check', 'bad.toml'], { cwd: dir, env: cleanEnv(dir) })
    expect(check.exitCode).not.toBe(0)
    expect(check.stderr.toString()).toContain('engine.batch_size')
    expect(check.stdout.toString()).not.toContain(': ok')
  })

  test('the libSQL web client is embedded: a remote database URL fails on the network, not on a missing module', () => {
    const dir = installBinary()
    const closedPort = freePort()
    const migrate = Bun.spawnSync(['./omnigate', 'migrate'], {
      cwd: dir,
      env: cleanEnv(dir, { OMNIGATE_DATABASE_URL: `http://127.0.0.1:${closedPort}` }),
      timeout: 20_000,
    })
    const stderr = migrate.stderr.toString()
    expect(migrate.exitCode).toBe(1)
    expect(stderr).toStartWith('error: ')
    expect(stderr).not.toMatch(/cannot find (module|package)|could not resolve|\.node\b/i)
    expect(readdirSync(dir)).toEqual(['omnigate'])
  })
})
