/**
 * The telegram channel end to end against a fake Bot API on loopback: sending (text, photo,
 * document, uploads) with the exact wire format, each class of Bot API error, webhook updates
 * with the secret header, long polling through the engine, /stop opt-outs, and health.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { telegramConnector } from '../../src/connectors/telegram'
import { telegramConfigSchema } from '../../src/connectors/telegram/config'
import type { InboundResult } from '../../src/connectors/types'
import type { Logger } from '../../src/lib/log'
import { USER_AGENT } from '../../src/version'
import { type Chat, type FakeTelegram, startFakeTelegram, telegramError } from '../fakes/telegram'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

const SECRET = 'whs3cret_Of-the-webhook'
const ALICE: Chat = { id: 4242, type: 'private', username: 'alice' }
const NEWS: Chat = { id: -1001234567890, type: 'channel', username: 'omnigate_news' }
const BOT_ADDRESS = '@omnigate_test_bot'
const FINAL = ['sent', 'delivered', 'read', 'failed']

type Json = Record<string, any>
let gw: TestGateway
let ns: Awaited<ReturnType<TestGateway['tenant']>>
let tg: FakeTelegram

beforeEach(async () => {
  gw = await startTestGateway()
  ns = await gw.tenant('acme')
  tg = startFakeTelegram({ chats: [ALICE, NEWS] })
})
afterEach(async () => {
  await gw.close()
  await tg.stop()
})

const api = async (method: string, path: string, body?: unknown) => {
  const res = await gw.call(method, `/v1/namespaces/acme${path}`, ns.key, body)
  return { status: res.status, body: (res.status === 204 ? null : await res.json()) as Json }
}
async function channel(config: Json = {}, name = 'tg'): Promise<Json> {
  const res = await api('POST', '/channels', {
    name,
    type: 'telegram',
    config: { bot_token: tg.token, base_url: tg.url, webhook_secret: SECRET, ...config },
  })
  expect(res.status).toBe(201)
  expect((await api('POST', `/channels/${name}/terminals`, { address: BOT_ADDRESS })).status).toBe(201)
  return res.body
}
const send = async (message: Json) => {
  const res = await api('POST', '/messages', { channel: 'tg', to: String(ALICE.id), ...message })
  expect(res.status).toBe(202)
  return res.body.id as string
}
const message = (id: string) => api('GET', `/messages/${id}`).then((r) => r.body)
const final = (id: string) => eventually(async () => FINAL.includes((await message(id)).status) && message(id))
const inbound = async () => (await api('GET', '/messages?direction=inbound')).body.data as Json[]
const webhook = (channelId: string, update: unknown, secret: string | null = SECRET) =>
  gw.app.request(`/inbound/${channelId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(secret === null ? {} : { 'x-telegram-bot-api-secret-token': secret }) },
    body: JSON.stringify(update),
  })

describe('channel config', () => {
  test('secrets are masked, the inbound URL and the base_url origin are shown', async () => {
    const res = await gw.call('POST', '/v1/namespaces/acme/channels', ns.key, {
      name: 'tg',
      type: 'telegram',
      config: { bot_token: tg.token, base_url: `${tg.url}/proxy`, webhook_secret: SECRET, parse_mode: 'HTML' },
    })
    const text = await res.text()
    expect(res.status).toBe(201)
    expect(text).not.toContain(tg.token.split(':')[1]!)
    expect(text).not.toContain(SECRET)
    const body = JSON.parse(text)
    expect(body.inbound_url).toBe(`${gw.deps.publicUrl}/inbound/${body.id}`)
    expect(body.config).toMatchObject({ mode: 'webhook', parse_mode: 'HTML', poll_timeout_seconds: 30, base_url: `${tg.url}/…` })
    expect(body.capabilities).toEqual(['send', 'receive', 'media', 'health'])
  })

  test.each([
    ['webhook mode without a webhook_secret', { webhook_secret: undefined }, 'config.webhook_secret'],
    ['a token that is not a bot token', { bot_token: 'not-a-token' }, 'config.bot_token'],
    ['a secret Telegram would refuse', { webhook_secret: 'has spaces!' }, 'config.webhook_secret'],
    ['an unknown mode', { mode: 'push' }, 'config.mode'],
    ['an unknown key', { chat_id: '1' }, 'config.chat_id'],
  ])('422 for %s', async (_name, extra, field) => {
    const config = { bot_token: tg.token, base_url: tg.url, webhook_secret: SECRET, ...extra }
    const res = await api('POST', '/channels', { name: 'tg', type: 'telegram', config })
    expect(res.status).toBe(422)
    expect(res.body.errors.map((e: Json) => e.field)).toEqual([field])
  })

  test('polling mode needs no webhook_secret', async () => {
    expect((await channel({ mode: 'polling', webhook_secret: undefined })).config.mode).toBe('polling')
  })
})

describe('sending', () => {
  test('text: sendMessage as a form with the channel parse_mode, options and the chat:message id', async () => {
    await channel({ parse_mode: 'HTML' })
    await gw.startEngine()
    const id = await send({
      content: { text: 'Order <b>42</b> shipped' },
      options: { telegram: { disable_notification: true, reply_to_message_id: 7 } },
    })
    const done = await final(id)
    const [call] = tg.calls('sendMessage')
    expect(call).toMatchObject({ httpMethod: 'POST', encoding: 'form' })
    expect(call!.params).toEqual({
      chat_id: '4242',
      text: 'Order <b>42</b> shipped',
      parse_mode: 'HTML',
      disable_notification: 'true',
      reply_parameters: { message_id: 7, allow_sending_without_reply: true },
    })
    expect(done).toMatchObject({ status: 'sent', attempts: 1, provider_message_id: '4242:1' })
  })

  test('html without text goes as HTML; parse_mode none overrides the channel default', async () => {
    await channel({ parse_mode: 'MarkdownV2' })
    await gw.startEngine()
    await final(await send({ content: { html: '<i>hello</i>' } }))
    await final(await send({ content: { text: 'v1.2 is out!' }, options: { telegram: { parse_mode: 'none' } } }))
    const [html, plain] = tg.calls('sendMessage')
    expect(html!.params).toEqual({ chat_id: '4242', text: '<i>hello</i>', parse_mode: 'HTML' })
    expect(plain!.params).toEqual({ chat_id: '4242', text: 'v1.2 is out!' })
  })

  test('a @channelusername is resolved: the provider id carries the numeric chat id', async () => {
    await channel()
    await gw.startEngine()
    const done = await final(await send({ to: '@omnigate_news', content: { text: 'news' } }))
    expect(tg.calls('sendMessage')[0]!.params.chat_id).toBe('@omnigate_news')
    expect(done.provider_message_id).toBe(`${NEWS.id}:1`)
  })

  test('an image URL goes with sendPhoto, another file with sendDocument, the text as caption', async () => {
    await channel()
    await gw.startEngine()
    const photo = { filename: 'cat.jpg', content_type: 'image/jpeg', url: 'https://cdn.example.com/cat.jpg' }
    const pdf = { filename: 'invoice.pdf', content_type: 'application/pdf', url: 'https://cdn.example.com/invoice.pdf' }
    expect((await final(await send({ content: { text: 'Look', attachments: [photo] } }))).status).toBe('sent')
    expect((await final(await send({ content: { attachments: [pdf] } }))).status).toBe('sent')
    expect(tg.calls('sendPhoto')[0]!.params).toEqual({ chat_id: '4242', photo: photo.url, caption: 'Look' })
    expect(tg.calls('sendDocument')[0]!.params).toEqual({ chat_id: '4242', document: pdf.url })
    expect(tg.calls('sendMessage')).toHaveLength(0)
  })

  test('an attachment with its bytes is uploaded as multipart', async () => {
    await channel()
    await gw.startEngine()
    const bytes = new TextEncoder().encode('id,total\n42,9.90\n')
    const csv = { filename: 'report.csv', content_type: 'text/csv', content_base64: Buffer.from(bytes).toString('base64') }
    expect((await final(await send({ content: { text: 'Report', attachments: [csv] } }))).status).toBe('sent')
    const [call] = tg.calls('sendDocument')
    expect(call!.encoding).toBe('multipart')
    expect(call!.params).toMatchObject({ chat_id: '4242', caption: 'Report', document: { filename: 'report.csv', contentType: 'text/csv' } })
    expect((call!.params.document as { bytes: Uint8Array }).bytes).toEqual(bytes)
  })

  test.each([
    ['a non-chat recipient', { to: 'alice' }, ['to']],
    ['a subject', { content: { text: 'x', subject: 'Hi' } }, ['content.subject']],
    ['two attachments', { content: { attachments: [1, 2].map((n) => ({ filename: `${n}.pdf`, url: `https://cdn.example.com/${n}.pdf` })) } }, ['content.attachments']],
    ['an unknown parse_mode', { content: { text: 'x' }, options: { telegram: { parse_mode: 'BBCode' } } }, ['options.telegram.parse_mode']],
    ['an unknown option', { content: { text: 'x' }, options: { telegram: { silent: true } } }, ['options.telegram.silent']],
  ])('422 for %s, nothing sent', async (_name, extra, fields) => {
    await channel()
    const res = await api('POST', '/messages', { channel: 'tg', to: '4242', content: { text: 'x' }, ...extra })
    expect(res.status).toBe(422)
    expect(res.body.errors.map((e: Json) => e.field)).toEqual(fields)
  })
})

describe('Bot API errors', () => {
  test('429 waits for retry_after, then the retry is sent', async () => {
    await channel()
    tg.failNext('sendMessage', telegramError(429, 'Too Many Requests: retry after 1', { retry_after: 1 }))
    await gw.startEngine()
    const done = await final(await send({ content: { text: 'hi' } }))
    expect(done).toMatchObject({ status: 'sent', attempts: 2 })
    expect(done.events[2]).toMatchObject({ status: 'queued', error: { code: 'telegram_429', class: 'rate-limited' } })
  })

  const permanent: [string, (tg: FakeTelegram) => void, Json, string, RegExp][] = [
    ['400 chat not found', () => {}, { to: '999', content: { text: 'hi' } }, 'telegram_400', /chat not found/],
    ['400 empty text', () => {}, { content: { text: '   ' } }, 'telegram_400', /message text is empty/],
    ['400 bad entities', () => {}, { content: { html: '<div>hi</div>' } }, 'telegram_400', /can't parse entities/],
    ['403 blocked by the user', (t) => t.block(ALICE.id), { content: { text: 'hi' } }, 'telegram_403', /blocked by the user/],
  ]
  test.each(permanent)('%s fails at once', async (_name, arrange, body, code, text) => {
    await channel()
    arrange(tg)
    await gw.startEngine()
    const done = await final(await send(body))
    expect(done).toMatchObject({ status: 'failed', attempts: 1, error: { code } })
    expect(done.error.message).toMatch(text)
  })

  test('401 (a revoked token) fails at once', async () => {
    await channel({ bot_token: '777000111:AAHrevokedToken' })
    await gw.startEngine()
    const done = await final(await send({ content: { text: 'hi' } }))
    expect(done).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'telegram_401' } })
    expect(done.error.message).toContain('bot token was rejected')
  })

  test('5xx is retried: an error envelope, then a proxy page, until max_attempts', async () => {
    await channel()
    await api('PATCH', '/channels/tg', { max_attempts: 2 })
    tg.failNext('sendMessage', telegramError(500, 'Internal Server Error'), { status: 502, body: '<html>502 Bad Gateway</html>' })
    await gw.startEngine()
    const done = await final(await send({ content: { text: 'hi' } }))
    expect(done).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'http_502' } })
    expect(done.error.message).toContain('gave up after 2 attempts')
    expect(done.events[2]).toMatchObject({ status: 'queued', error: { code: 'telegram_500', class: 'transient' } })
  })

  test('an unreachable Bot API is a transient network error', async () => {
    const closed = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response() })
    const url = `http://127.0.0.1:${closed.port}`
    await closed.stop(true)
    await channel({ base_url: url })
    await api('PATCH', '/channels/tg', { max_attempts: 2 })
    await gw.startEngine()
    const done = await final(await send({ content: { text: 'hi' } }))
    expect(done).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'network_error' } })
  })
})

describe('webhook updates', () => {
  test('a text message with the right secret is stored; the answer is 200 {}', async () => {
    const { id } = await channel()
    const update = tg.messageUpdate(ALICE, { text: 'Where is my order?' })
    const res = await webhook(id, update)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({})
    const [stored] = await inbound()
    expect(stored).toMatchObject({
      direction: 'inbound',
      status: 'received',
      from: '4242',
      to: BOT_ADDRESS,
      content: { text: 'Where is my order?' },
      provider_message_id: `4242:${update.message.message_id}`,
      metadata: { update_id: String(update.update_id), from_username: 'alice', chat_type: 'private' },
    })
  })

  test('a photo and a document become attachments with their file_id', async () => {
    const { id } = await channel()
    const sizes = [{ file_id: 'small', file_unique_id: 's1' }, { file_id: 'large', file_unique_id: 'l1' }]
    await webhook(id, tg.messageUpdate(ALICE, { photo: sizes, caption: 'my cat' }))
    await webhook(id, tg.messageUpdate(ALICE, { document: { file_id: 'doc1', file_name: 'cv.pdf', mime_type: 'application/pdf' } }))
    const [doc, photo] = await inbound()
    expect(photo).toMatchObject({ content: { text: 'my cat', attachments: [{ filename: 'photo_l1.jpg', content_type: 'image/jpeg' }] }, metadata: { file_id: 'large' } })
    expect(doc).toMatchObject({ content: { attachments: [{ filename: 'cv.pdf', content_type: 'application/pdf' }] }, metadata: { file_id: 'doc1' } })
  })

  test('a wrong or missing secret is 403 and nothing is stored', async () => {
    const { id } = await channel()
    const update = tg.messageUpdate(ALICE, { text: 'spoofed' })
    expect((await webhook(id, update, 'guess')).status).toBe(403)
    expect((await webhook(id, update, null)).status).toBe(403)
    expect(await inbound()).toEqual([])
  })

  test('a replayed update and other update kinds change nothing', async () => {
    const { id } = await channel()
    const update = tg.messageUpdate(ALICE, { text: 'once' })
    expect((await webhook(id, update)).status).toBe(200)
    expect((await webhook(id, update)).status).toBe(200)
    const edit = { update_id: update.update_id + 1, edited_message: update.message }
    const query = { update_id: update.update_id + 2, callback_query: { id: '1', from: { id: ALICE.id }, data: 'x' } }
    for (const other of [edit, query]) expect(await (await webhook(id, other)).json()).toEqual({})
    expect(await inbound()).toHaveLength(1)
  })

  test('a polling channel takes no webhook calls', async () => {
    const { id } = await channel({ mode: 'polling' })
    expect((await webhook(id, tg.messageUpdate(ALICE, { text: 'hi' }))).status).toBe(404)
  })

  test('/stop suppresses the chat, sends to it fail before Telegram; /start lifts it', async () => {
    const { id } = await channel()
    await webhook(id, tg.messageUpdate(ALICE, { text: '/stop' }))
    const listed = (await api('GET', '/suppressions')).body.data
    expect(listed).toMatchObject([{ channel_type: 'telegram', recipient: '4242', reason: 'opt-out' }])
    await gw.startEngine()
    const blocked = await final(await send({ content: { text: 'promo' } }))
    expect(blocked).toMatchObject({ status: 'failed', error: { code: 'recipient_suppressed' } })
    expect(tg.calls('sendMessage')).toHaveLength(0)

    await webhook(id, tg.messageUpdate(ALICE, { text: '/start@omnigate_test_bot' }))
    expect((await api('GET', '/suppressions')).body.data).toEqual([])
    expect((await final(await send({ content: { text: 'welcome back' } }))).status).toBe('sent')
  })
})

describe('long polling', () => {
  const listenerContext = (config: Json, logs: string[] = []) => {
    const log: Logger = { debug() {}, info() {}, warn: (m) => void logs.push(m), error: (m) => void logs.push(m) }
    return {
      config: telegramConfigSchema.parse({ bot_token: tg.token, base_url: tg.url, mode: 'polling', poll_timeout_seconds: 1, ...config }),
      fetch: gw.deps.fetch,
      userAgent: USER_AGENT,
      channel: { id: 'ch_test', name: 'tg', type: 'telegram' },
      callbackUrl: 'http://127.0.0.1/inbound/ch_test',
      terminals: [],
      log,
    }
  }

  test('the engine polls a polling channel: an update is stored and then confirmed by offset', async () => {
    await channel({ mode: 'polling', poll_timeout_seconds: 1 })
    await gw.startEngine()
    const update = tg.messageUpdate(ALICE, { text: 'hello bot' })
    tg.queue(update)
    const [stored] = await eventually(async () => (await inbound()).length > 0 && inbound())
    expect(stored).toMatchObject({ from: '4242', to: BOT_ADDRESS, content: { text: 'hello bot' } })
    await eventually(async () => tg.calls('getUpdates').some((c) => Number(c.params.offset) === update.update_id + 1))
  })

  test('across a restart an update Telegram hands out again is stored once, and later ones arrive', async () => {
    await channel({ mode: 'polling', poll_timeout_seconds: 1 })
    const first = await gw.startEngine()
    const update = tg.messageUpdate(ALICE, { text: 'first' })
    tg.queue(update)
    await eventually(async () => (await inbound()).length === 1)
    await first.stop()
    tg.queue(update) // as if the confirming getUpdates never reached Telegram
    tg.queue(tg.messageUpdate(ALICE, { text: 'second' }))
    await gw.startEngine()
    await eventually(async () => (await inbound()).some((m) => m.content.text === 'second'))
    expect((await inbound()).map((m) => m.content.text)).toEqual(['second', 'first'])
  })

  test('a batch that could not be stored is fetched again, not skipped', async () => {
    const delivered: InboundResult['messages'][] = []
    let failures = 1
    const listener = telegramConnector.listen!(listenerContext({}), async (result) => {
      if (failures-- > 0) throw new Error('database is locked')
      delivered.push(result.messages)
    })!
    tg.queue(tg.messageUpdate(ALICE, { text: 'keep me' }))
    await eventually(async () => delivered.length === 1)
    await listener.stop()
    expect(delivered[0]!.map((m) => m.content.text)).toEqual(['keep me'])
  })

  test('an answer that is not a list of updates is logged and polled past, never the end of polling', async () => {
    // A proxy or stand-in at base_url: `ok` with no list, then a list with a hole in it.
    const valid = { update_id: 7001, message: { message_id: 1, date: 1, chat: { id: 4242, type: 'private' }, text: 'after the hole' } }
    const answers: unknown[] = [null, [null, valid]]
    const offsets: (string | null)[] = []
    const proxy = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      async fetch(req) {
        // node-telegram-bot-api posts a form
        offsets.push(new URLSearchParams(await req.text()).get('offset'))
        return Response.json({ ok: true, result: answers.length > 0 ? answers.shift() : [] })
      },
    })
    const logs: string[] = []
    const delivered: string[] = []
    const listener = telegramConnector.listen!(listenerContext({ base_url: `http://127.0.0.1:${proxy.port}` }, logs), async (result) => {
      for (const m of result.messages ?? []) delivered.push(m.content.text!)
    })!
    try {
      await eventually(async () => offsets.includes('7002'))
    } finally {
      await listener.stop()
      proxy.stop(true)
    }
    expect(delivered).toEqual(['after the hole'])
    expect(logs.filter((l) => l.includes('not a list of updates'))).toHaveLength(2)
  })

  test('stop() ends a long poll in flight', async () => {
    const listener = telegramConnector.listen!(listenerContext({ poll_timeout_seconds: 50 }), async () => {})!
    await eventually(async () => tg.calls('getUpdates').length > 0)
    await listener.stop()
  })

  test('a webhook left set is reported as a clear log line', async () => {
    tg.webhook.url = 'https://old.example.com/hook'
    const logs: string[] = []
    const listener = telegramConnector.listen!(listenerContext({}, logs), async () => {})!
    await eventually(async () => logs.length > 0)
    await listener.stop()
    expect(logs[0]).toContain('a webhook is set for this bot; call deleteWebhook')
  })

  test('a webhook channel starts no listener', () => {
    expect(telegramConnector.listen!({ ...listenerContext({}), config: telegramConfigSchema.parse({ bot_token: tg.token, webhook_secret: SECRET }) }, async () => {})).toBeNull()
  })
})

describe('health', () => {
  const check = async () => (await api('POST', '/channels/tg/test')).body

  test('ok with the bot username; a reminder when no webhook is set yet', async () => {
    await channel()
    expect(await check()).toEqual({ ok: true, detail: expect.stringContaining('@omnigate_test_bot: no webhook is set yet') })
    tg.webhook.url = 'https://gw.example.com/inbound/x'
    expect(await check()).toEqual({ ok: true, detail: 'bot @omnigate_test_bot (webhook)' })
  })

  test('a rejected token and a polling channel with a webhook set are clear failures', async () => {
    await channel({ bot_token: '777000111:AAHrevokedToken' })
    expect(await check()).toEqual({ ok: false, detail: 'bot token rejected (401 Unauthorized)' })
    await channel({ mode: 'polling' }, 'poller')
    tg.webhook.url = 'https://gw.example.com/inbound/x'
    const res = (await api('POST', '/channels/poller/test')).body
    expect(res).toMatchObject({ ok: false, detail: expect.stringContaining('call deleteWebhook') })
  })
})
