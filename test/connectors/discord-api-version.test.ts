/**
 * Discord's "Copy Webhook URL" gives `https://discord.com/api/webhooks/{id}/{token}`, with no API
 * version, which Discord serves as its default, v6, where a 429's `retry_after` is milliseconds
 * (seconds since v8). The connector pins such a URL to v10, so a 1.5 s wait is 1.5 s (it was read
 * as seconds on v6: 25 minutes).
 */
import { afterEach, expect, test } from 'bun:test'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

const WEBHOOK = '/webhooks/1234567890123456789/tok_Zq3-9xY'

let gw: TestGateway
let server: ReturnType<typeof Bun.serve>
afterEach(async () => {
  await gw?.close()
  await server?.stop(true)
})

test('a 429 on the webhook URL as Discord gives it (unversioned, so v6) is retried after the 1.5 s Discord asked for, not 25 minutes', async () => {
  const paths: string[] = []
  let posts = 0
  // Discord's execute-webhook answers, by API version: the first call is rate limited (1.5 s).
  server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const url = new URL(req.url)
      paths.push(url.pathname)
      const version = /^\/api\/v(\d+)\//.exec(url.pathname)?.[1]
      const v = version ? Number(version) : 6 // unversioned = the default version, v6
      if (++posts === 1) {
        const retryAfter = v >= 8 ? 1.5 : 1500
        return Response.json(
          { message: 'You are being rate limited.', retry_after: retryAfter, global: false },
          { status: 429, headers: { 'retry-after': String(v >= 8 ? 2 : 1500) } },
        )
      }
      return Response.json({ id: '1300000000000000000', content: 'x', channel_id: '1111111111111111111' })
    },
  })
  gw = await startTestGateway()
  const { key } = await gw.tenant('acme')
  const webhookUrl = `http://127.0.0.1:${server.port}/api${WEBHOOK}`
  expect((await gw.call('POST', '/v1/namespaces/acme/channels', key, { name: 'ops', type: 'discord', config: { webhook_url: webhookUrl } })).status).toBe(201)
  await gw.startEngine()
  const res = await gw.call('POST', '/v1/namespaces/acme/messages', key, { channel: 'ops', to: '#ops', content: { text: 'Backup done' } })
  const { id } = (await res.json()) as { id: string }
  const show = async () =>
    (await (await gw.call('GET', `/v1/namespaces/acme/messages/${id}`, key)).json()) as {
      status: string
      attempts: number
      next_attempt_at?: string | null
      events: { status: string; at: string }[]
    }
  // Give the retry well over the 1.5 s Discord asked for.
  const done = await eventually(async () => ['sent', 'failed'].includes((await show()).status) && show(), 8_000).catch(async () => show())
  expect(done).toMatchObject({ status: 'sent', attempts: 2 })
  expect(paths).toEqual([`/api/v10${WEBHOOK}`, `/api/v10${WEBHOOK}`])
})
