/**
 * `omnigate keys rotate`, `omnigate keys rotate-master` and `omnigate client` as a person runs
 * them (real processes on a config file, and in demo mode), checked through a gateway opened on
 * the same database afterwards: tokens, channels and webhooks keep working with the new keys,
 * and the old master key opens nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { eq } from 'drizzle-orm'
import { Webhook } from 'standardwebhooks'
import type { Deps } from '../../src/domain/deps'
import { getNamespace } from '../../src/domain/namespaces'
import { sendMessage } from '../../src/domain/messages/send'
import { createWebhook } from '../../src/domain/webhooks/endpoints'
import { Engine } from '../../src/engine/engine'
import { openGateway } from '../../src/gateway'
import { createApp } from '../../src/http/app'
import { silentLogger } from '../../src/lib/log'
import { generateMasterKey, SecretBox } from '../../src/lib/secrets'
import { channels, messages, signingKeys, webhooks } from '../../src/store/schema'
import { startHttpReceiver, type HttpReceiver } from '../fakes/http-receiver'
import { eventually, testConfig } from '../helpers/gateway'
import { tempDir } from '../helpers/stores'

const MAIN = join(import.meta.dir, '..', '..', 'src', 'main.ts')
/** Each test starts several CLI processes: generous on a busy machine, never a timing assertion. */
const CLI_TIMEOUT_MS = 60_000
const OLD_KEY = generateMasterKey()
const NEW_KEY = generateMasterKey()

let dir: ReturnType<typeof tempDir>
let configPath: string
let receiver: HttpReceiver
beforeAll(() => {
  dir = tempDir()
  configPath = join(dir.path, 'omnigate.toml')
  // The same database file testConfig(dir) points at, so the test can open a gateway on it.
  writeFileSync(
    configPath,
    `[database]\nurl = "file:${join(dir.path, 'omnigate.db')}"\n\n[security]\nmaster_key = "\${TEST_MASTER_KEY}"\nallow_private_network = true\n`,
  )
  receiver = startHttpReceiver()
})
afterAll(async () => {
  await receiver.stop()
  dir.cleanup()
})

/** Runs the CLI on the config file with `masterKey` in the environment. */
function omnigate(args: string[], opts: { masterKey?: string; stdin?: string; cwd?: string; config?: boolean; env?: Record<string, string> } = {}) {
  const proc = Bun.spawnSync([process.execPath, MAIN, ...(opts.config === false ? [] : ['--config', configPath]), ...args], {
    cwd: opts.cwd ?? dir.path,
    env: { PATH: process.env.PATH ?? '', TEST_MASTER_KEY: opts.masterKey ?? OLD_KEY, ...opts.env },
    stdin: opts.stdin === undefined ? 'ignore' : Buffer.from(opts.stdin),
  })
  return { code: proc.exitCode, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() }
}

/** A gateway in this process on the CLI's database, opened with `masterKey` (as a restart would). */
async function openWith(masterKey: string) {
  const config = testConfig(dir.path, { security: { master_key: masterKey } })
  const deps = await openGateway({ config, demo: false, log: silentLogger, migrate: true })
  const app = createApp(deps, { bodyLimitBytes: config.server.body_limit_bytes, log: silentLogger })
  let engine: Engine | null = null
  return {
    deps,
    app,
    async startEngine() {
      engine = new Engine(deps, config, silentLogger)
      await engine.start()
    },
    async close() {
      await engine?.stop()
      await deps.store.close()
    },
  }
}

async function tokenFor(app: ReturnType<typeof createApp>, clientId: string, secret: string) {
  return app.request('/oauth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${btoa(`${clientId}:${secret}`)}` },
    body: 'grant_type=client_credentials',
  })
}

const kidOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()).kid as string

let clientId = ''
let clientSecret = ''

describe('omnigate client', () => {
  test('create prints the id and the secret once; list never shows the secret', () => {
    expect(omnigate(['namespace', 'create', 'acme']).code).toBe(0)
    expect(omnigate(['app', 'create', 'backend', '-n', 'acme']).code).toBe(0)
    const created = omnigate(['client', 'create', '-n', 'acme', '--app', 'backend', '--scopes', 'channels:read,messages:send', '--name', 'worker'])
    expect(created.stderr).toBe('')
    expect(created.code).toBe(0)
    expect(created.stdout).toMatch(/^created OAuth client for backend; the secret is shown only now:\nclient_id: +cli_[0-9a-f]{32}\nclient_secret: +og_secret_[\w-]{32}\n$/)
    clientId = created.stdout.match(/cli_[0-9a-f]{32}/)![0]
    clientSecret = created.stdout.match(/og_secret_[\w-]{32}/)![0]
    const listed = omnigate(['client', 'list', '-n', 'acme', '--app', 'backend'])
    expect(listed.stdout).toMatch(new RegExp(`${clientId}\\s+app_[0-9a-f]+\\s+worker\\s+2\\s+-\\s+-`))
    expect(listed.stdout).not.toContain(clientSecret)
  }, CLI_TIMEOUT_MS)

  test('bad input is one line naming the problem', () => {
    const unknown = omnigate(['client', 'create', '-n', 'acme', '--app', 'backend', '--scopes', 'channels:read,root'])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('error: scopes.1: unknown scope "root"')
    const noApp = omnigate(['client', 'create', '-n', 'acme', '--app', 'nope'])
    expect(noApp.stderr.trim()).toBe('error: application "nope" does not exist')
    expect(omnigate(['client', 'create', '-n', 'acme', '--app', 'backend', '--expires-in-days', '0']).code).toBe(2)
  }, CLI_TIMEOUT_MS)

  test('the client the CLI made gets tokens; after client revoke it gets none', async () => {
    let gw = await openWith(OLD_KEY)
    try {
      const res = await tokenFor(gw.app, clientId, clientSecret)
      expect(res.status).toBe(200)
      expect(((await res.json()) as { scope: string }).scope).toBe('channels:read messages:send')
    } finally {
      await gw.close()
    }
    const revoked = omnigate(['client', 'revoke', clientId, '-n', 'acme'])
    expect(revoked.stdout.trim()).toBe(`revoked OAuth client ${clientId}`)
    // Revoked by another process: this one sees it once its 1 s client cache has passed.
    await Bun.sleep(1100)
    gw = await openWith(OLD_KEY)
    try {
      expect((await tokenFor(gw.app, clientId, clientSecret)).status).toBe(401)
    } finally {
      await gw.close()
    }
  }, CLI_TIMEOUT_MS)
})

describe('omnigate keys rotate', () => {
  test('prints the new kid; tokens signed before stay valid and the JWKS lists both keys', async () => {
    const made = omnigate(['client', 'create', '-n', 'acme', '--app', 'backend', '--scopes', 'channels:read'])
    clientId = made.stdout.match(/cli_[0-9a-f]{32}/)![0]
    clientSecret = made.stdout.match(/og_secret_[\w-]{32}/)![0]
    let gw = await openWith(OLD_KEY)
    let before: string
    try {
      before = ((await (await tokenFor(gw.app, clientId, clientSecret)).json()) as { access_token: string }).access_token
    } finally {
      await gw.close()
    }

    const rotated = omnigate(['keys', 'rotate'])
    expect(rotated.stderr).toBe('')
    expect(rotated.stdout).toMatch(/^new signing key kid_[0-9a-f]{32} \(ES256\); the previous key verifies tokens for 24 h more\n$/)
    const newKid = rotated.stdout.match(/kid_[0-9a-f]{32}/)![0]
    expect(newKid).not.toBe(kidOf(before))

    gw = await openWith(OLD_KEY)
    try {
      const kids = ((await (await gw.app.request('/.well-known/jwks.json')).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid)
      expect(kids.sort()).toEqual([kidOf(before), newKid].sort())
      const auth = (jwt: string) => ({ headers: { authorization: `Bearer ${jwt}` } })
      expect((await gw.app.request('/v1/namespaces/acme/channels', auth(before))).status).toBe(200)
      const after = ((await (await tokenFor(gw.app, clientId, clientSecret)).json()) as { access_token: string }).access_token
      expect(kidOf(after)).toBe(newKid)
      expect((await gw.app.request('/v1/namespaces/acme/channels', auth(after))).status).toBe(200)
    } finally {
      await gw.close()
    }
  }, CLI_TIMEOUT_MS)
})

describe('omnigate keys rotate-master', () => {
  const HTTP_SECRET = 'Bearer http-channel-s3cret'
  let webhookSecret = ''
  let tokenBefore = ''

  /** Every sealed secret in the store, with the id it was sealed with. */
  async function sealedRows(deps: Deps) {
    const db = deps.store.read
    const rows = [
      ...(await db.select({ id: channels.id, enc: channels.configEnc }).from(channels)),
      ...(await db.select({ id: webhooks.id, enc: webhooks.secretsEnc }).from(webhooks)),
      ...(await db.select({ id: signingKeys.id, enc: signingKeys.privateEnc }).from(signingKeys)),
    ]
    return rows
  }

  test('refuses a malformed new key or the current one, changing nothing', () => {
    for (const stdin of ['', 'not-a-key\n', `${OLD_KEY.slice(0, -2)}\n`]) {
      const bad = omnigate(['keys', 'rotate-master'], { stdin })
      expect(bad.code).toBe(2)
      expect(bad.stderr).toStartWith('error: ')
      expect(bad.stderr.trim().split('\n')).toHaveLength(1)
    }
    const same = omnigate(['keys', 'rotate-master'], { stdin: `${OLD_KEY}\n` })
    expect(same.code).toBe(2)
    expect(same.stderr.trim()).toBe('error: the new master key is the current one')
  }, CLI_TIMEOUT_MS)

  test('re-encrypts every secret in one go; with the new key every channel, webhook and token works; the old key opens nothing', async () => {
    // Before: channels with credentials, a webhook with its signing secret, a token.
    let gw = await openWith(OLD_KEY)
    try {
      const acme = await getNamespace(gw.deps, 'acme')
      const auth = { authorization: `Bearer ${((await (await tokenFor(gw.app, clientId, clientSecret)).json()) as { access_token: string }).access_token}` }
      tokenBefore = auth.authorization.slice(7)
      const key = omnigate(['key', 'create', '-n', 'acme', '--app', 'backend']).stdout.match(/og_live_[\w-]{32}/)![0]
      const post = (path: string, body: unknown) =>
        gw.app.request(`/v1/namespaces/acme${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
      expect((await post('/channels', { name: 'sandbox', type: 'sandbox' })).status).toBe(201)
      expect((await post('/channels', { name: 'hook', type: 'http', config: { url: `${receiver.url}inbox`, headers: { authorization: HTTP_SECRET } } })).status).toBe(201)
      webhookSecret = (await createWebhook(gw.deps, acme.id, { url: `${receiver.url}events`, event_types: ['message.sent'] })).secret
      expect(auth.authorization).toStartWith('Bearer ey')
    } finally {
      await gw.close()
    }

    const rotated = omnigate(['keys', 'rotate-master'], { stdin: `${NEW_KEY}\n` })
    expect(rotated.stderr).toBe('')
    expect(rotated.code).toBe(0)
    expect(rotated.stdout).toBe(
      're-encrypted 2 channel config(s), 1 webhook secret set(s) and 2 signing key(s) with the new master key\n' +
        'security.master_key must now be set to the new key before the next start: the old key no longer opens the stored secrets\n',
    )
    expect(rotated.stdout).not.toContain(NEW_KEY)

    gw = await openWith(NEW_KEY)
    try {
      const rows = await sealedRows(gw.deps)
      expect(rows).toHaveLength(5)
      const [oldBox, newBox] = [new SecretBox(OLD_KEY), new SecretBox(NEW_KEY)]
      for (const row of rows) {
        expect(() => oldBox.open(row.enc, row.id)).toThrow()
        expect(() => newBox.open(row.enc, row.id)).not.toThrow()
      }

      // Every channel still sends, with its credentials intact; the webhook still signs.
      await gw.startEngine()
      const acme = await getNamespace(gw.deps, 'acme')
      const send = async (channel: string) =>
        ((await sendMessage(gw.deps, acme.id, { channel, to: 'bob@example.com', content: { text: `via ${channel}` } })).body as { id: string }).id
      const ids = [await send('sandbox'), await send('hook')]
      const statuses = await eventually(async () => {
        const rows = await Promise.all(ids.map(async (id) => (await gw.deps.store.read.select().from(messages).where(eq(messages.id, id)))[0]!.status))
        return rows.every((s) => ['sent', 'delivered'].includes(s)) && rows
      })
      expect(statuses).toEqual(['delivered', 'sent'])
      const delivered = receiver.received.find((r) => r.path === '/inbox')!
      expect(delivered.headers.authorization).toBe(HTTP_SECRET)
      const event = await eventually(async () => receiver.received.find((r) => r.path === '/events'))
      expect(() => new Webhook(webhookSecret).verify(event.rawBody, event.headers)).not.toThrow()

      // Tokens: one signed before still verifies; a new one is signed with the re-sealed key.
      const auth = (jwt: string) => ({ headers: { authorization: `Bearer ${jwt}` } })
      expect((await gw.app.request('/v1/namespaces/acme/channels', auth(tokenBefore))).status).toBe(200)
      const fresh = await tokenFor(gw.app, clientId, clientSecret)
      expect(fresh.status).toBe(200)
      expect((await gw.app.request('/v1/namespaces/acme/channels', auth(((await fresh.json()) as { access_token: string }).access_token))).status).toBe(200)
    } finally {
      await gw.close()
    }
  }, CLI_TIMEOUT_MS)

  test('run again with the stale key in the config: refused, nothing changed', async () => {
    const again = omnigate(['keys', 'rotate-master'], { stdin: `${generateMasterKey()}\n`, masterKey: OLD_KEY })
    expect(again.code).toBe(2)
    // Refused at start-up, before anything is read or written.
    expect(again.stderr).toBe('error: security.master_key does not open the secrets stored in this database: it is not the key they were sealed with. Use that key (omnigate keys rotate-master changes it)\n')
    const gw = await openWith(NEW_KEY)
    try {
      const newBox = new SecretBox(NEW_KEY)
      for (const row of await sealedRows(gw.deps)) expect(() => newBox.open(row.enc, row.id)).not.toThrow()
    } finally {
      await gw.close()
    }
  }, CLI_TIMEOUT_MS)
})

describe('omnigate keys rotate-master in demo mode', () => {
  test('rewrites data/master.key (0600) and the demo keeps working', () => {
    const demo = tempDir()
    try {
      // No config file: demo mode (loopback allowed, so the http channel can point at the receiver).
      const env = { OMNIGATE_SECURITY_ALLOW_PRIVATE_NETWORK: 'true' }
      const run = (args: string[], stdin?: string) => omnigate(args, { cwd: demo.path, config: false, stdin, env })
      expect(run(['namespace', 'create', 'demo']).code).toBe(0)
      expect(run(['channel', 'add', 'hook', '-n', 'demo', '--type', 'http', '--set', `url=${receiver.url}demo`]).code).toBe(0)
      const keyFile = join(demo.path, 'data', 'master.key')
      const oldKey = readFileSync(keyFile, 'utf8').trim()
      const newKey = generateMasterKey()

      const rotated = run(['keys', 'rotate-master'], `${newKey}\n`)
      expect(rotated.stderr).toBe('')
      expect(rotated.stdout).toContain(`the new master key is in ${keyFile}`)
      expect(rotated.stdout).not.toContain(newKey)
      expect(readFileSync(keyFile, 'utf8').trim()).toBe(newKey)
      expect(statSync(keyFile).mode & 0o777).toBe(0o600)
      expect(existsSync(`${keyFile}.new`)).toBe(false)

      const db = new Database(join(demo.path, 'data', 'omnigate.db'), { readonly: true })
      const row = db.query('SELECT id, config_enc FROM channels').get() as { id: string; config_enc: string }
      db.close()
      expect(() => new SecretBox(oldKey).open(row.config_enc, row.id)).toThrow()
      expect(new SecretBox(newKey).openJson<{ url: string }>(row.config_enc, row.id).url).toBe(`${receiver.url}demo`)
      const listed = run(['channel', 'list', '-n', 'demo'])
      expect(listed.code).toBe(0)
      expect(listed.stdout).toMatch(/hook\s+http\s+active/)
    } finally {
      demo.cleanup()
    }
  }, CLI_TIMEOUT_MS)
})
