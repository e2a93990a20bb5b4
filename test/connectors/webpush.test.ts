/**
 * The webpush connector end to end: channels through the API (VAPID keys generated, the private
 * one masked), messages through the engine to a fake push service that verifies VAPID like real
 * ones do, and the encrypted body decrypted with http_ece as the browser would (an implementation
 * independent of web-push's). Web push has no callbacks, so there is no inbound path to test.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { createECDH, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import webpush from 'web-push'
import { webpushConnector } from '../../src/connectors/webpush'
import { openChannelConfig } from '../../src/domain/channels'
import { generateMasterKey } from '../../src/lib/secrets'
import { channels } from '../../src/store/schema'
import { type FakePushService, type PushServiceOptions, pushError, startPushService } from '../fakes/push-service'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'
import { tempDir } from '../helpers/stores'

// http_ece ships no types; this is the one function the tests use.
const ece: { decrypt(body: Buffer, params: { version: string; privateKey: unknown; authSecret: string }): Buffer } = require('http_ece')

const SUBJECT = 'mailto:push-ops@example.com'
const FINAL = ['sent', 'delivered', 'read', 'failed']

let gw: TestGateway
let ns: Awaited<ReturnType<TestGateway['tenant']>>
let push: FakePushService
beforeEach(async () => {
  gw = await startTestGateway()
  ns = await gw.tenant('acme')
  push = startPushService({ subject: SUBJECT })
})
afterEach(async () => {
  await push.stop()
  await gw.close()
})

const api = (method: string, path: string, body?: unknown) => gw.call(method, `/v1/namespaces/acme${path}`, ns.key, body)

/** Creates the `push` channel and returns its view. */
async function pushChannel(config: Record<string, unknown> = { subject: SUBJECT }) {
  const res = await api('POST', '/channels', { name: 'push', type: 'webpush', config })
  expect(res.status).toBe(201)
  return (await res.json()) as { id: string; config: Record<string, any>; inbound_url: string | null }
}

/** A browser subscribed with the channel's public key: its subscription JSON and its decryption. */
function browser(applicationServerKey: string | undefined) {
  const ecdh = createECDH('prime256v1')
  ecdh.generateKeys()
  const auth = randomBytes(16).toString('base64url')
  return {
    subscription: { endpoint: push.endpoint(applicationServerKey), expirationTime: null, keys: { p256dh: ecdh.getPublicKey('base64url'), auth } },
    read: (body: Uint8Array) =>
      JSON.parse(ece.decrypt(Buffer.from(body), { version: 'aes128gcm', privateKey: ecdh, authSecret: auth }).toString('utf8')),
  }
}

async function send(to: unknown, extra: Record<string, unknown> = {}) {
  const res = await api('POST', '/messages', { channel: 'push', to, content: { subject: 'Order 42', text: 'Your order shipped' }, ...extra })
  expect(res.status).toBe(202)
  return ((await res.json()) as { id: string }).id
}

type Shown = { status: string; attempts: number; provider_message_id: string | null; error: { code: string; message: string } | null; events: any[] }
const final = (id: string) =>
  eventually(async () => {
    const shown = (await (await api('GET', `/messages/${id}`)).json()) as Shown
    return FINAL.includes(shown.status) && shown
  })

describe('webpush channel config', () => {
  test('VAPID keys are generated on create; the public key is shown, the private key masked', async () => {
    const view = await pushChannel()
    expect(view.config).toEqual({
      subject: SUBJECT,
      ttl_seconds: 86_400,
      vapid_public_key: expect.stringMatching(/^[A-Za-z0-9_-]{87}$/),
      vapid_private_key: expect.stringMatching(/^••••/),
    })
    expect(view.inbound_url).toBeNull()
    const [row] = await gw.deps.store.read.select().from(channels)
    const stored = openChannelConfig(gw.deps, row!) as Record<string, string>
    expect(stored.vapid_public_key).toBe(view.config.vapid_public_key)
    const ecdh = createECDH('prime256v1')
    ecdh.setPrivateKey(Buffer.from(stored.vapid_private_key!, 'base64url'))
    expect(ecdh.getPublicKey('base64url')).toBe(stored.vapid_public_key!)
  })

  test('a given key pair is kept', async () => {
    const keys = webpush.generateVAPIDKeys()
    const view = await pushChannel({
      subject: 'https://shop.example.com/contact',
      vapid_public_key: keys.publicKey,
      vapid_private_key: keys.privateKey,
      urgency: 'low',
    })
    expect(view.config.vapid_public_key).toBe(keys.publicKey)
    expect(view.config.vapid_private_key).toBe(`••••${keys.privateKey.slice(-4)}`)
  })

  const keys = webpush.generateVAPIDKeys()
  const other = webpush.generateVAPIDKeys()
  test.each([
    ['only a public key', { vapid_public_key: keys.publicKey }, 'config.vapid_private_key'],
    ['only a private key', { vapid_private_key: keys.privateKey }, 'config.vapid_public_key'],
    ['keys of two pairs', { vapid_public_key: keys.publicKey, vapid_private_key: other.privateKey }, 'config.vapid_public_key'],
    ['a short private key', { vapid_public_key: keys.publicKey, vapid_private_key: 'c2hvcnQ' }, 'config.vapid_private_key'],
    ['an http subject', { subject: 'http://shop.example.com' }, 'config.subject'],
    ['a bare subject', { subject: 'push-ops@example.com' }, 'config.subject'],
    ['no subject', { subject: undefined }, 'config.subject'],
    ['an unknown urgency', { urgency: 'asap' }, 'config.urgency'],
  ])('%s is a 422 naming the field', async (_name, extra, field) => {
    const res = await api('POST', '/channels', { name: 'push', type: 'webpush', config: { subject: SUBJECT, ...extra } })
    expect(res.status).toBe(422)
    expect(((await res.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual([field])
  })

  test('the channel test signs and verifies a VAPID token; broken keys are a clear failure', async () => {
    const view = await pushChannel()
    const res = await api('POST', `/channels/${view.id}/test`)
    expect(await res.json()).toEqual({ ok: true, detail: `VAPID key pair signs and verifies; public key ${view.config.vapid_public_key}` })
    const broken = { subject: SUBJECT, ttl_seconds: 60, vapid_public_key: keys.publicKey, vapid_private_key: other.privateKey }
    const health = await webpushConnector.health!({ config: broken, fetch: gw.deps.fetch, userAgent: 'test' })
    expect(health.ok).toBe(false)
    expect(health.detail).toStartWith('VAPID keys do not work: ')
  })
})

describe('webpush sending', () => {
  test('the payload is encrypted for the browser and the request signed with the channel key', async () => {
    const view = await pushChannel()
    const { subscription, read } = browser(view.config.vapid_public_key)
    await gw.startEngine()
    const id = await send(subscription, {
      metadata: { order: '42' },
      options: { webpush: { ttl_seconds: 60, urgency: 'high', topic: 'order-42', payload: { icon: '/icon.png', data: { url: '/orders/42' } } } },
    })
    const shown = await final(id)
    expect(shown).toMatchObject({ status: 'sent', attempts: 1, error: null })
    expect(push.received).toHaveLength(1)
    const [req] = push.received
    expect(shown.provider_message_id).toStartWith(`${push.origin}/m/`)
    expect(req!.status).toBe(201)
    expect(req!.headers).toMatchObject({
      ttl: '60',
      urgency: 'high',
      topic: 'order-42',
      'content-encoding': 'aes128gcm',
      'content-type': 'application/octet-stream',
    })
    expect(req!.headers['user-agent']).toStartWith('omnigate/')
    expect(req!.vapidKey).toBe(view.config.vapid_public_key)
    expect(req!.claims).toMatchObject({ aud: push.origin, sub: SUBJECT })
    // options.webpush.payload is merged last: its `data` replaces the metadata.
    expect(read(req!.body)).toEqual({ title: 'Order 42', body: 'Your order shipped', data: { url: '/orders/42' }, icon: '/icon.png' })
  })

  test('channel defaults apply when the message sets none; no subject, no title', async () => {
    const view = await pushChannel({ subject: SUBJECT, ttl_seconds: 3600, urgency: 'low' })
    const { subscription, read } = browser(view.config.vapid_public_key)
    await gw.startEngine()
    const res = await api('POST', '/messages', { channel: 'push', to: subscription, content: { text: 'ping' }, metadata: { k: 'v' } })
    expect((await final(((await res.json()) as { id: string }).id)).status).toBe('sent')
    const [req] = push.received
    expect(req!.headers).toMatchObject({ ttl: '3600', urgency: 'low' })
    expect(req!.headers.topic).toBeUndefined()
    expect(read(req!.body)).toEqual({ body: 'ping', data: { k: 'v' } })
  })
})

describe('webpush: what the push service answers', () => {
  type Case = [string, (key: string) => unknown, string, number, number]
  const answering = (status: number, errno: number) => (key: string) => {
    push = restart(() => pushError(status, errno, `refused with ${status}`))
    return browser(key).subscription
  }
  const cases: Case[] = [
    ['an unknown endpoint (404)', () => ({ ...browser(undefined).subscription, endpoint: `${push.origin}/push/nosuchtoken` }), 'subscription_gone', 1, 1],
    ['an expired subscription (410)', (key) => expire(browser(key).subscription), 'subscription_gone', 1, 1],
    ['a subscription made with another VAPID key (403)', () => browser(webpush.generateVAPIDKeys().publicKey).subscription, 'vapid_rejected', 1, 1],
    ['a payload too large (413)', answering(413, 104), 'payload_too_large', 1, 1],
    ['a bad request (400)', answering(400, 110), 'http_400', 1, 1],
    ['a server error (500), every time', answering(500, 999), 'http_500', 2, 2],
  ]
  function restart(respond: PushServiceOptions['respond']): FakePushService {
    void push.stop()
    return startPushService({ subject: SUBJECT, respond })
  }
  function expire<T extends { endpoint: string }>(subscription: T): T {
    push.expire(subscription.endpoint)
    return subscription
  }

  test.each(cases)('%s', async (_name, subscriptionFor, code, attempts, requests) => {
    const view = await pushChannel()
    await api('PATCH', '/channels/push', { max_attempts: 2 })
    const to = subscriptionFor(view.config.vapid_public_key)
    await gw.startEngine()
    const shown = await final(await send(to))
    expect(shown).toMatchObject({ status: 'failed', attempts, error: { code } })
    expect(push.received).toHaveLength(requests)
    if (code === 'subscription_gone') expect(shown.error!.message).toContain('The push subscription is gone')
  })

  test('429 is retried after Retry-After, then sent', async () => {
    push = restart((_req, n) => (n === 1 ? pushError(429, 201, 'slow down', { 'retry-after': '1' }) : undefined))
    const view = await pushChannel()
    await api('PATCH', '/channels/push', { max_attempts: 2 })
    const { subscription } = browser(view.config.vapid_public_key)
    await gw.startEngine()
    const shown = await final(await send(subscription))
    expect(shown).toMatchObject({ status: 'sent', attempts: 2 })
    expect(shown.events.map((e) => e.status)).toEqual(['queued', 'sending', 'queued', 'sending', 'sent'])
    expect(shown.events[2].error).toMatchObject({ code: 'http_429', class: 'rate-limited' })
    expect(push.received.map((r) => r.status)).toEqual([429, 201])
  })
})

describe('the fake push service refuses what real ones refuse', () => {
  const vapid = webpush.generateVAPIDKeys()
  /** A push built by web-push itself, then spoiled by `spoil`; the status the fake answers. */
  type Spoil = (headers: Record<string, string>) => unknown
  async function answer(spoil: Spoil, audience = push.origin): Promise<[number, number | undefined]> {
    const { subscription } = browser(undefined)
    const details = webpush.generateRequestDetails(subscription, 'hi', {
      vapidDetails: { subject: SUBJECT, publicKey: vapid.publicKey, privateKey: vapid.privateKey },
      contentEncoding: 'aes128gcm',
    })
    const headers = Object.fromEntries(Object.entries(details.headers).map(([k, v]) => [k, String(v)]))
    if (audience !== push.origin) headers.Authorization = webpush.getVapidHeaders(audience, SUBJECT, vapid.publicKey, vapid.privateKey, 'aes128gcm').Authorization
    spoil(headers)
    delete headers['Content-Length']
    const res = await fetch(details.endpoint, { method: 'POST', headers, body: details.body })
    const text = await res.text()
    return [res.status, text ? (JSON.parse(text) as { errno: number }).errno : undefined]
  }
  test.each([
    ['nothing wrong', () => {}, undefined, [201, undefined]],
    ['another audience', () => {}, 'https://push.example.net', [401, 109]],
    ['no Authorization', (h) => delete h.Authorization, undefined, [401, 109]],
    ['a forged signature', (h) => (h.Authorization = h.Authorization!.replace(/k=.*/, `k=${webpush.generateVAPIDKeys().publicKey}`)), undefined, [401, 109]],
    ['no TTL', (h) => delete h.TTL, undefined, [400, 111]],
    ['aesgcm encoding', (h) => (h['Content-Encoding'] = 'aesgcm'), undefined, [400, 110]],
  ] as [string, Spoil, string | undefined, [number, number | undefined]][])('%s', async (_name, spoil, audience, expected) => {
    expect(await answer(spoil, audience)).toEqual(expected)
  })
})

describe('webpush: what a message cannot carry (422)', () => {
  const keys = { p256dh: createECDH('prime256v1').generateKeys('base64url'), auth: randomBytes(16).toString('base64url') }
  const to = { endpoint: 'https://push.example.net/push/abc', keys }
  test.each([
    ['a string recipient', { to: 'alice@example.com' }, ['to']],
    ['no endpoint', { to: { keys } }, ['to.endpoint']],
    ['an ftp endpoint', { to: { ...to, endpoint: 'ftp://push.example.net/x' } }, ['to.endpoint']],
    ['no keys', { to: { endpoint: to.endpoint } }, ['to.keys']],
    ['a p256dh that is no P-256 point', { to: { ...to, keys: { ...keys, p256dh: 'AAAA' } } }, ['to.keys.p256dh']],
    ['no auth secret', { to: { ...to, keys: { p256dh: keys.p256dh } } }, ['to.keys.auth']],
    ['an unknown subscription field', { to: { ...to, extra: 1 } }, ['to.extra']],
    ['attachments', { content: { text: 'x', attachments: [{ filename: 'a.txt', content_base64: 'YQ==' }] } }, ['content.attachments']],
    ['html', { content: { text: 'x', html: '<b>x</b>' } }, ['content.html']],
    ['a payload over 3993 bytes', { content: { text: 'x'.repeat(4000) } }, ['content.text']],
    [
      'bad push options',
      { options: { webpush: { urgency: 'now', topic: 'has spaces', ttl: 5 } } },
      ['options.webpush.topic', 'options.webpush.ttl', 'options.webpush.urgency'],
    ],
  ])('%s', async (_name, extra, fields) => {
    await pushChannel()
    const res = await api('POST', '/messages', { channel: 'push', to, content: { text: 'hello' }, ...extra })
    expect(res.status).toBe(422)
    expect(((await res.json()) as { errors: { field: string }[] }).errors.map((e) => e.field).sort()).toEqual(fields)
  })
})

describe('omnigate channel vapid-keys', () => {
  test('prints the public key of a webpush channel; refuses other types', () => {
    const dir = tempDir()
    try {
      const configPath = join(dir.path, 'omnigate.toml')
      writeFileSync(configPath, `[database]\nurl = "file:${join(dir.path, 'og.db')}"\n\n[security]\nmaster_key = "${generateMasterKey()}"\n`)
      const omnigate = (...args: string[]) => {
        const proc = Bun.spawnSync([process.execPath, join(import.meta.dir, '..', '..', 'src', 'main.ts'), '--config', configPath, ...args], {
          cwd: dir.path,
          env: { PATH: process.env.PATH ?? '' },
        })
        return { code: proc.exitCode, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() }
      }
      expect(omnigate('namespace', 'create', 'acme').code).toBe(0)
      const added = omnigate('--json', 'channel', 'add', 'push', '-n', 'acme', '--type', 'webpush', '--set', `subject=${SUBJECT}`)
      const publicKey = (JSON.parse(added.stdout) as { config: Record<string, string> }).config.vapid_public_key!
      expect(omnigate('channel', 'add', 'box', '-n', 'acme', '--type', 'sandbox').code).toBe(0)
      expect(publicKey).toMatch(/^[A-Za-z0-9_-]{87}$/)

      const printed = omnigate('channel', 'vapid-keys', 'push', '-n', 'acme')
      expect(printed).toEqual({ code: 0, stdout: `${publicKey}\n`, stderr: '' })
      expect(JSON.parse(omnigate('--json', 'channel', 'vapid-keys', 'push', '-n', 'acme').stdout)).toEqual({ channel: 'push', vapid_public_key: publicKey })
      const wrong = omnigate('channel', 'vapid-keys', 'box', '-n', 'acme')
      expect(wrong.code).toBe(1)
      expect(wrong.stderr).toBe('error: channel: "box" is a sandbox channel; only webpush channels have VAPID keys\n')
    } finally {
      dir.cleanup()
    }
    // Six processes, each opening the store: generous, so a loaded machine does not fail it.
  }, 60_000)
})
