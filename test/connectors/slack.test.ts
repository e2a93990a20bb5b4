/**
 * The `slack` connector end to end: a channel created through the API with a webhook URL that
 * points at the fake Slack, messages sent through the API and the dispatcher, and what the fake
 * received, how each of Slack's answers ends, and what the API refuses up front.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { FAKE_SLACK_TOKEN, type FakeSlack, type SlackErrorCode, slackErrorAnswer, slackRateLimitAnswer, startFakeSlack } from '../fakes/slack'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

type Event = { status: string; at: string; attempt: number | null; error: { code: string; message: string; class: string } | null }
type MessageBody = { id: string; status: string; attempts: number; provider_message_id: string | null; error: { code: string; message: string } | null; events: Event[] }
type Problem = { code: string; status: number; errors?: { field: string; message: string }[] }

let gw: TestGateway
let key: string
let slack: FakeSlack

async function start(overrides: Record<string, any> = {}) {
  gw = await startTestGateway(overrides)
  key = (await gw.tenant('acme')).key
}
beforeEach(() => {
  slack = startFakeSlack()
})
afterEach(async () => {
  await gw.close()
  await slack.stop()
})

const api = (method: string, path: string, body?: unknown) => gw.call(method, `/v1/namespaces/acme${path}`, key, body)

async function createChannel(config: Record<string, unknown> = {}) {
  const res = await api('POST', '/channels', { name: 'alerts', type: 'slack', config: { webhook_url: slack.webhookUrl, ...config } })
  expect(res.status).toBe(201)
  return (await res.json()) as { id: string; config: Record<string, unknown>; capabilities: string[]; inbound_url: string | null }
}

async function send(extra: Record<string, unknown> = {}): Promise<string> {
  const res = await api('POST', '/messages', { channel: 'alerts', to: '#deploys', content: { text: 'Deploy 42 finished' }, ...extra })
  expect(res.status).toBe(202)
  return ((await res.json()) as { id: string }).id
}

const show = async (id: string) => (await (await api('GET', `/messages/${id}`)).json()) as MessageBody
const finished = (id: string) => eventually(async () => ['sent', 'failed'].includes((await show(id)).status) && show(id))
const fieldsOf = (problem: Problem) => (problem.errors ?? []).map((e) => e.field).sort()

describe('creating a slack channel', () => {
  beforeEach(() => start())

  test('201: the webhook URL is masked everywhere, the channel sends and has no inbound URL', async () => {
    const created = await createChannel({ username: 'Deploy bot', icon_emoji: ':rocket:' })
    expect(created.capabilities).toEqual(['send', 'health'])
    expect(created.inbound_url).toBeNull()
    expect(created.config).toEqual({ webhook_url: `${new URL(slack.webhookUrl).origin}/…`, username: 'Deploy bot', icon_emoji: ':rocket:' })
    for (const text of [await (await api('GET', '/channels')).text(), await (await api('GET', '/channels/alerts')).text()]) {
      expect(text).not.toContain(FAKE_SLACK_TOKEN)
      expect(text).not.toContain('/services/')
    }
  })

  const invalid: [string, Record<string, unknown>, string[]][] = [
    ['no webhook_url', {}, ['config.webhook_url']],
    ['a URL that is not an incoming webhook', { webhook_url: 'https://hooks.slack.com/workflows/T1/A2/3/xyz' }, ['config.webhook_url']],
    ['an ftp URL', { webhook_url: 'ftp://hooks.slack.com/services/T1/B2/xyz' }, ['config.webhook_url']],
    ['an icon_emoji without colons', { webhook_url: 'http://127.0.0.1:9/services/T1/B2/xyz', icon_emoji: 'rocket' }, ['config.icon_emoji']],
    ['both icons', { webhook_url: 'http://127.0.0.1:9/services/T1/B2/xyz', icon_emoji: ':x:', icon_url: 'https://example.com/a.png' }, ['config.icon_emoji']],
    ['an unknown key', { webhook_url: 'http://127.0.0.1:9/services/T1/B2/xyz', channel: '#general' }, ['config.channel']],
  ]
  test.each(invalid)('422 for %s, naming the field, without echoing the URL', async (_name, config, fields) => {
    const res = await api('POST', '/channels', { name: 'alerts', type: 'slack', config })
    const text = await res.clone().text()
    expect(res.status).toBe(422)
    expect(fieldsOf((await res.json()) as Problem)).toEqual(fields)
    expect(text).not.toContain('xyz')
  })
})

describe('the outbound-URL guard', () => {
  beforeEach(() => start({ security: { allow_private_network: false } }))

  test('a webhook URL on a loopback address is refused on create', async () => {
    const res = await api('POST', '/channels', { name: 'alerts', type: 'slack', config: { webhook_url: slack.webhookUrl } })
    expect(res.status).toBe(422)
    expect(fieldsOf((await res.json()) as Problem)).toEqual(['config.webhook_url'])
  })
})

describe('sending', () => {
  beforeEach(() => start())

  test('POSTs Slack JSON to the webhook; 200 ok is sent, with no provider message id', async () => {
    await createChannel({ username: 'Deploy bot', icon_emoji: ':rocket:' })
    await gw.startEngine()
    const done = await finished(await send())
    expect(done).toMatchObject({ status: 'sent', attempts: 1, provider_message_id: null, error: null })
    expect(done.events.map((e) => e.status)).toEqual(['queued', 'sending', 'sent'])
    expect(slack.received).toHaveLength(1)
    const [req] = slack.received
    expect(req!.path).toBe(new URL(slack.webhookUrl).pathname)
    expect(req!.headers['content-type']).toBe('application/json')
    expect(req!.headers['user-agent']).toStartWith('omnigate/')
    expect(JSON.parse(req!.rawBody)).toEqual({ text: 'Deploy 42 finished', username: 'Deploy bot', icon_emoji: ':rocket:' })
    expect(slack.posted).toHaveLength(1)
  })

  test('Block Kit blocks from options.slack go along, with the text as the fallback', async () => {
    await createChannel({ icon_url: 'https://example.com/bot.png' })
    await gw.startEngine()
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '*Deploy 42* finished' } }, { type: 'divider' }]
    const done = await finished(await send({ options: { slack: { blocks } } }))
    expect(done.status).toBe('sent')
    expect(slack.posted).toEqual([{ text: 'Deploy 42 finished', blocks, icon_url: 'https://example.com/bot.png' }])
  })

  const permanent: SlackErrorCode[] = ['invalid_payload', 'no_text', 'action_prohibited', 'channel_not_found', 'channel_is_archived']
  test.each(permanent)('HTTP %s from Slack fails the message at once with that code', async (code) => {
    await createChannel()
    slack.answerNext(slackErrorAnswer(code))
    await gw.startEngine()
    const done = await finished(await send())
    expect(done).toMatchObject({ status: 'failed', attempts: 1, error: { code } })
    expect(done.error!.message).toContain(`Slack answered HTTP ${slackErrorAnswer(code).status} ${code}`)
    expect(done.events.at(-1)!.error).toMatchObject({ code, class: 'permanent' })
    expect(slack.received).toHaveLength(1)
  })

  test('a wrong token is 403 invalid_token and a removed webhook 404 no_service: failed, never retried, token not shown', async () => {
    const base = new URL(slack.webhookUrl)
    const [, , team, service] = base.pathname.split('/')
    const cases: [string, string][] = [
      [`${base.origin}/services/${team}/${service}/wrongTokenValue123`, 'invalid_token'],
      [`${base.origin}/services/${team}/BREMOVED/${FAKE_SLACK_TOKEN}`, 'no_service'],
    ]
    await gw.startEngine()
    for (const [i, [webhookUrl, code]] of cases.entries()) {
      const name = `hook-${i}`
      expect((await api('POST', '/channels', { name, type: 'slack', config: { webhook_url: webhookUrl } })).status).toBe(201)
      const done = await finished(await send({ channel: name }))
      expect(done).toMatchObject({ status: 'failed', attempts: 1, error: { code } })
      expect(JSON.stringify(done)).not.toContain(FAKE_SLACK_TOKEN)
      expect(JSON.stringify(done)).not.toContain('wrongTokenValue123')
    }
    expect(slack.posted).toEqual([])
  })

  test('a 5xx is retried, then sent', async () => {
    await createChannel()
    slack.answerNext(slackErrorAnswer('rollup_error'))
    await gw.startEngine()
    const done = await finished(await send())
    expect(done).toMatchObject({ status: 'sent', attempts: 2 })
    expect(done.events.map((e) => e.status)).toEqual(['queued', 'sending', 'queued', 'sending', 'sent'])
    expect(done.events[2]!.error).toMatchObject({ code: 'rollup_error', class: 'transient' })
    expect(slack.posted).toHaveLength(1)
  })

  test("5xx on every attempt fails after the channel's max_attempts", async () => {
    await createChannel()
    expect((await api('PATCH', '/channels/alerts', { max_attempts: 2 })).status).toBe(200)
    slack.answerNext(new Response('upstream timeout', { status: 503 }), new Response('upstream timeout', { status: 503 }))
    await gw.startEngine()
    const done = await finished(await send())
    expect(done).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'http_503' } })
    expect(done.error!.message).toContain('gave up after 2 attempts')
    expect(slack.received).toHaveLength(2)
  })

  test('429 is rate-limited and the retry waits for Retry-After, beyond the usual backoff', async () => {
    await createChannel()
    slack.answerNext(slackRateLimitAnswer(1))
    await gw.startEngine()
    const done = await finished(await send())
    expect(done).toMatchObject({ status: 'sent', attempts: 2 })
    const [, , limited, retry] = done.events
    expect(limited!.error).toMatchObject({ code: 'rate_limited', class: 'rate-limited' })
    // The test engine's backoff is at most 200 ms, so a gap this long can only be the hint.
    expect(Date.parse(retry!.at) - Date.parse(limited!.at)).toBeGreaterThanOrEqual(900)
  })

  test('an unreachable webhook is a transient network error, retried to max_attempts; the token stays hidden', async () => {
    const closed = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('') })
    const port = closed.port
    await closed.stop(true)
    const webhookUrl = `http://127.0.0.1:${port}${new URL(slack.webhookUrl).pathname}`
    expect((await api('POST', '/channels', { name: 'alerts', type: 'slack', config: { webhook_url: webhookUrl }, max_attempts: 2 })).status).toBe(201)
    await gw.startEngine()
    const done = await finished(await send())
    expect(done).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'network_error' } })
    expect(JSON.stringify(done)).not.toContain(FAKE_SLACK_TOKEN)
  })
})

describe('what a Slack webhook cannot carry is refused when the message is accepted', () => {
  beforeEach(async () => {
    await start()
    await createChannel()
  })

  const blocks = (n: number) => Array.from({ length: n }, () => ({ type: 'divider' }))
  const drafts: [string, Record<string, unknown>, string[]][] = [
    ['html', { content: { text: 'hi', html: '<b>hi</b>' } }, ['content.html']],
    ['html without text', { content: { html: '<b>hi</b>' } }, ['content.html', 'content.text']],
    ['attachments', { content: { text: 'hi', attachments: [{ filename: 'a.txt', content_base64: 'aGk=' }] } }, ['content.attachments']],
    ['a subject', { content: { text: 'hi', subject: 'Deploys' } }, ['content.subject']],
    ['an object recipient', { to: { channel: 'C123' } }, ['to']],
    ['more than 40,000 characters', { content: { text: 'x'.repeat(40_001) } }, ['content.text']],
    ['51 blocks', { options: { slack: { blocks: blocks(51) } } }, ['options.slack.blocks']],
    ['a block that is not an object', { options: { slack: { blocks: ['divider'] } } }, ['options.slack.blocks.0']],
    ['an unknown slack option', { options: { slack: { thread_ts: '1.2' } } }, ['options.slack.thread_ts']],
  ]
  test.each(drafts)('422 for %s, naming the field; nothing is queued', async (_name, extra, fields) => {
    const res = await api('POST', '/messages', { channel: 'alerts', to: '#deploys', content: { text: 'hi' }, ...extra })
    expect(res.status).toBe(422)
    const problem = (await res.json()) as Problem
    expect(problem.code).toBe('validation_failed')
    expect(fieldsOf(problem)).toEqual(fields)
    const list = (await (await api('GET', '/messages')).json()) as { data: unknown[] }
    expect(list.data).toEqual([])
  })

  test('to is only a label: any string is accepted', async () => {
    expect((await api('POST', '/messages', { channel: 'alerts', to: 'whoever is on call', content: { text: 'hi' } })).status).toBe(202)
  })
})

describe('health', () => {
  beforeEach(() => start())

  test('the test endpoint reports the URL well-formed and posts nothing', async () => {
    await createChannel()
    const res = await api('POST', '/channels/alerts/test')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true, detail: 'webhook URL is well-formed; Slack has no test endpoint — send a message to check' })
    expect(slack.received).toEqual([])
  })
})
