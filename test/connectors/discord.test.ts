/**
 * The `discord` connector end to end: a channel created through the API with a webhook URL that
 * points at the fake Discord, messages sent through the API and the dispatcher, and what the fake
 * received, how each of Discord's answers ends, and what the API refuses up front.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { discordErrorAnswer, discordRateLimitAnswer, FAKE_DISCORD_TOKEN, type FakeDiscord, startFakeDiscord } from '../fakes/discord'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

/** The path the connector calls: an unversioned webhook URL pinned to API v10 (discord-api-version.test.ts). */
const v10 = (webhookUrl: string) => new URL(webhookUrl).pathname.replace('/api/webhooks/', '/api/v10/webhooks/')

type Event = { status: string; at: string; attempt: number | null; provider_message_id: string | null; error: { code: string; message: string; class: string } | null }
type MessageBody = { id: string; status: string; attempts: number; provider_message_id: string | null; error: { code: string; message: string } | null; events: Event[] }
type Problem = { code: string; status: number; errors?: { field: string; message: string }[] }

let gw: TestGateway
let key: string
let discord: FakeDiscord

async function start(overrides: Record<string, any> = {}) {
  gw = await startTestGateway(overrides)
  key = (await gw.tenant('acme')).key
}
beforeEach(() => {
  discord = startFakeDiscord()
})
afterEach(async () => {
  await gw.close()
  await discord.stop()
})

const api = (method: string, path: string, body?: unknown) => gw.call(method, `/v1/namespaces/acme${path}`, key, body)

async function createChannel(config: Record<string, unknown> = {}, name = 'ops') {
  const res = await api('POST', '/channels', { name, type: 'discord', config: { webhook_url: discord.webhookUrl, ...config } })
  expect(res.status).toBe(201)
  return (await res.json()) as { id: string; config: Record<string, unknown>; capabilities: string[]; inbound_url: string | null }
}

async function send(extra: Record<string, unknown> = {}): Promise<string> {
  const res = await api('POST', '/messages', { channel: 'ops', to: '#ops', content: { text: 'Backup done' }, ...extra })
  expect(res.status).toBe(202)
  return ((await res.json()) as { id: string }).id
}

const show = async (id: string) => (await (await api('GET', `/messages/${id}`)).json()) as MessageBody
const finished = (id: string) => eventually(async () => ['sent', 'failed'].includes((await show(id)).status) && show(id))
const fieldsOf = (problem: Problem) => (problem.errors ?? []).map((e) => e.field).sort()

describe('creating a discord channel', () => {
  beforeEach(() => start())

  test('201: the webhook URL is masked everywhere, the channel sends and has no inbound URL', async () => {
    const created = await createChannel({ username: 'Backup bot' })
    expect(created.capabilities).toEqual(['send', 'health'])
    expect(created.inbound_url).toBeNull()
    expect(created.config).toEqual({ webhook_url: `${new URL(discord.webhookUrl).origin}/…`, username: 'Backup bot' })
    for (const text of [await (await api('GET', '/channels')).text(), await (await api('GET', '/channels/ops')).text()]) {
      expect(text).not.toContain(FAKE_DISCORD_TOKEN)
      expect(text).not.toContain('/webhooks/')
    }
  })

  const hook = 'http://127.0.0.1:9/api/webhooks/123/tok-en'
  const invalid: [string, Record<string, unknown>, string[]][] = [
    ['no webhook_url', {}, ['config.webhook_url']],
    ["a Slack-compatible URL (Discord's /slack suffix takes another format)", { webhook_url: `${hook}/slack` }, ['config.webhook_url']],
    ['a channel URL instead of a webhook URL', { webhook_url: 'https://discord.com/channels/1/2' }, ['config.webhook_url']],
    ['a username Discord refuses', { webhook_url: hook, username: 'Discord Alerts' }, ['config.username']],
    ['an avatar_url that is no URL', { webhook_url: hook, avatar_url: 'bot.png' }, ['config.avatar_url']],
    ['an unknown key', { webhook_url: hook, channel_id: '1' }, ['config.channel_id']],
  ]
  test.each(invalid)('422 for %s, naming the field, without echoing the URL', async (_name, config, fields) => {
    const res = await api('POST', '/channels', { name: 'ops', type: 'discord', config })
    const text = await res.clone().text()
    expect(res.status).toBe(422)
    expect(fieldsOf((await res.json()) as Problem)).toEqual(fields)
    expect(text).not.toContain('tok-en')
  })
})

describe('sending', () => {
  beforeEach(() => start())

  test('executes the webhook with ?wait=true, no mention parsing; the created message id is the provider id', async () => {
    await createChannel({ username: 'Backup bot', avatar_url: 'https://example.com/bot.png' })
    await gw.startEngine()
    const done = await finished(await send({ content: { text: '@everyone backup done' } }))
    expect(discord.created).toHaveLength(1)
    const createdId = discord.created[0]!.id as string
    expect(createdId).toMatch(/^\d{17,20}$/)
    expect(done).toMatchObject({ status: 'sent', attempts: 1, provider_message_id: createdId, error: null })
    expect(done.events.map((e) => [e.status, e.provider_message_id])).toEqual([['queued', null], ['sending', null], ['sent', createdId]])
    const [req] = discord.received
    expect(req!.path).toBe(`${v10(discord.webhookUrl)}?wait=true`)
    expect(req!.headers['content-type']).toBe('application/json')
    expect(req!.headers['user-agent']).toStartWith('omnigate/')
    expect(JSON.parse(req!.rawBody)).toEqual({
      content: '@everyone backup done',
      username: 'Backup bot',
      avatar_url: 'https://example.com/bot.png',
      allowed_mentions: { parse: [] },
    })
  })

  test('embeds and tts from options.discord go along; a thread_id in the webhook URL is kept', async () => {
    await createChannel({ webhook_url: `${discord.webhookUrl}?thread_id=998877` })
    await gw.startEngine()
    const embeds = [{ title: 'Backup', description: '42 GB', color: 0x2ecc71 }]
    const done = await finished(await send({ options: { discord: { embeds, tts: true } } }))
    expect(done.status).toBe('sent')
    expect(discord.received[0]!.path).toBe(`${v10(discord.webhookUrl)}?thread_id=998877&wait=true`)
    expect(discord.received[0]!.body).toEqual({ content: 'Backup done', embeds, tts: true, allowed_mentions: { parse: [] } })
  })

  test('a 204 without the message is still sent, with no provider id', async () => {
    await createChannel()
    discord.answerNext(new Response(null, { status: 204 }))
    await gw.startEngine()
    expect(await finished(await send())).toMatchObject({ status: 'sent', provider_message_id: null })
  })

  test('a 400 Invalid Form Body fails at once as discord_50035, with the field errors in the message', async () => {
    await createChannel()
    discord.answerNext(
      discordErrorAnswer(400, 50035, 'Invalid Form Body', { embeds: { '0': { title: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 256 or fewer in length.' }] } } } }),
    )
    await gw.startEngine()
    const done = await finished(await send())
    expect(done).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'discord_50035' } })
    expect(done.error!.message).toBe('Discord answered HTTP 400: Invalid Form Body (embeds.0.title: Must be 256 or fewer in length.)')
    expect(done.events.at(-1)!.error).toMatchObject({ class: 'permanent' })
  })

  test('403 missing permissions fails at once as discord_50013', async () => {
    await createChannel()
    discord.answerNext(discordErrorAnswer(403, 50013, 'Missing Permissions'))
    await gw.startEngine()
    expect(await finished(await send())).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'discord_50013' } })
  })

  test('a wrong token is 401 discord_50027 and an unknown webhook 404 discord_10015: failed, never retried, token not shown', async () => {
    const base = new URL(discord.webhookUrl)
    const cases: [string, string][] = [
      [`${base.origin}/api/webhooks/${discord.webhookId}/wrongTokenValue123`, 'discord_50027'],
      [`${base.origin}/api/v10/webhooks/999/${FAKE_DISCORD_TOKEN}`, 'discord_10015'],
    ]
    await gw.startEngine()
    for (const [i, [webhookUrl, code]] of cases.entries()) {
      const name = `hook-${i}`
      await createChannel({ webhook_url: webhookUrl }, name)
      const done = await finished(await send({ channel: name }))
      expect(done).toMatchObject({ status: 'failed', attempts: 1, error: { code } })
      expect(JSON.stringify(done)).not.toContain(FAKE_DISCORD_TOKEN)
      expect(JSON.stringify(done)).not.toContain('wrongTokenValue123')
    }
    expect(discord.created).toEqual([])
  })

  test('a 5xx is retried, then sent; an HTML error page is not copied into the message', async () => {
    await createChannel()
    discord.answerNext(new Response('<html><body>502 Bad Gateway</body></html>', { status: 502, headers: { 'content-type': 'text/html' } }))
    await gw.startEngine()
    const done = await finished(await send())
    expect(done).toMatchObject({ status: 'sent', attempts: 2 })
    expect(done.events[2]!.error).toEqual({ code: 'http_502', message: 'Discord answered HTTP 502', class: 'transient' })
  })

  test("5xx on every attempt fails after the channel's max_attempts", async () => {
    await createChannel()
    expect((await api('PATCH', '/channels/ops', { max_attempts: 2 })).status).toBe(200)
    discord.answerNext(discordErrorAnswer(500, 0, '500: Internal Server Error'), discordErrorAnswer(500, 0, '500: Internal Server Error'))
    await gw.startEngine()
    const done = await finished(await send())
    expect(done).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'discord_0' } })
    expect(done.error!.message).toContain('gave up after 2 attempts')
  })

  test('429 is rate-limited and the retry waits retry_after from the body (fractional seconds), beyond the usual backoff', async () => {
    await createChannel()
    // The body's retry_after is the precise hint; the header here says less, so only the body explains the wait.
    const limited429 = discordRateLimitAnswer(1.5)
    limited429.headers.set('retry-after', '1')
    discord.answerNext(limited429)
    await gw.startEngine()
    const done = await finished(await send())
    expect(done).toMatchObject({ status: 'sent', attempts: 2 })
    const [, , limited, retry] = done.events
    expect(limited!.error).toMatchObject({ code: 'discord_rate_limited', class: 'rate-limited' })
    expect(limited!.error!.message).toBe('Discord answered HTTP 429: webhook rate limit')
    // The test engine's backoff is at most 200 ms and the header says 1 s.
    expect(Date.parse(retry!.at) - Date.parse(limited!.at)).toBeGreaterThanOrEqual(1400)
  })
})

describe('what a Discord webhook cannot carry is refused when the message is accepted', () => {
  beforeEach(async () => {
    await start()
    await createChannel()
  })

  const embeds = (n: number) => Array.from({ length: n }, (_, i) => ({ title: `#${i}` }))
  const drafts: [string, Record<string, unknown>, string[]][] = [
    ['content over 2000 characters', { content: { text: 'x'.repeat(2001) } }, ['content.text']],
    ['11 embeds', { options: { discord: { embeds: embeds(11) } } }, ['options.discord.embeds']],
    ['tts that is not a boolean', { options: { discord: { tts: 'yes' } } }, ['options.discord.tts']],
    ['an unknown discord option', { options: { discord: { components: [] } } }, ['options.discord.components']],
    ['html', { content: { text: 'hi', html: '<b>hi</b>' } }, ['content.html']],
    ['attachments', { content: { text: 'hi', attachments: [{ filename: 'a.txt', content_base64: 'aGk=' }] } }, ['content.attachments']],
    ['a subject', { content: { text: 'hi', subject: 'Backups' } }, ['content.subject']],
    ['blank text', { content: { text: '   ' } }, ['content.text']],
    ['an object recipient', { to: { channel_id: '1' } }, ['to']],
  ]
  test.each(drafts)('422 for %s, naming the field; nothing is queued', async (_name, extra, fields) => {
    const res = await api('POST', '/messages', { channel: 'ops', to: '#ops', content: { text: 'hi' }, ...extra })
    expect(res.status).toBe(422)
    const problem = (await res.json()) as Problem
    expect(problem.code).toBe('validation_failed')
    expect(fieldsOf(problem)).toEqual(fields)
    expect(((await (await api('GET', '/messages')).json()) as { data: unknown[] }).data).toEqual([])
  })

  test('2000 characters count as Discord counts them (an emoji is one) and are sent', async () => {
    await gw.startEngine()
    const done = await finished(await send({ content: { text: '🚀'.repeat(2000) } }))
    expect(done.status).toBe('sent')
  })
})

describe('health', () => {
  beforeEach(() => start())

  test('the test endpoint GETs the webhook (Get Webhook with Token) and posts nothing', async () => {
    await createChannel({ webhook_url: `${discord.webhookUrl}?thread_id=998877` })
    const res = await api('POST', '/channels/ops/test')
    expect(res.status).toBe(200)
    const body = await res.json()
    expect(body).toEqual({ ok: true, detail: 'webhook "Captain Hook" posts to channel 1111111111111111111; nothing was posted' })
    expect(JSON.stringify(body)).not.toContain(FAKE_DISCORD_TOKEN)
    expect(discord.received.map((r) => `${r.method} ${r.path}`)).toEqual([`GET ${v10(discord.webhookUrl)}`])
    expect(discord.created).toEqual([])
  })

  test('a deleted webhook or a wrong token is a clear failure, without the token', async () => {
    const base = new URL(discord.webhookUrl)
    await createChannel({ webhook_url: `${base.origin}/api/webhooks/999/${FAKE_DISCORD_TOKEN}` }, 'gone')
    await createChannel({ webhook_url: `${base.origin}/api/webhooks/${discord.webhookId}/wrongTokenValue123` }, 'wrong')
    const gone = await (await api('POST', '/channels/gone/test')).json()
    expect(gone).toEqual({ ok: false, detail: 'Discord answered HTTP 404: Unknown Webhook' })
    const wrong = await (await api('POST', '/channels/wrong/test')).json()
    expect(wrong).toEqual({ ok: false, detail: 'Discord answered HTTP 401: Invalid Webhook Token' })
  })

  test('an unreachable Discord is a failure that says so', async () => {
    const closed = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('') })
    const port = closed.port
    await closed.stop(true)
    await createChannel({ webhook_url: `http://127.0.0.1:${port}${new URL(discord.webhookUrl).pathname}` })
    const body = (await (await api('POST', '/channels/ops/test')).json()) as { ok: boolean; detail: string }
    expect(body.ok).toBe(false)
    expect(body.detail).toStartWith('Discord did not answer: ')
    expect(body.detail).not.toContain(FAKE_DISCORD_TOKEN)
  })
})
