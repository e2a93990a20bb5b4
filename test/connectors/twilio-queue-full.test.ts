/**
 * Twilio answers 400 with error 21611 when a sender has more than 10 hours of messages queued;
 * its error page says to slow down and send again later. It is retried like a rate limit (it
 * failed the message at once, so a bulk send through one number lost everything past the queue).
 */
import { afterEach, beforeEach, expect, test } from 'bun:test'
import { type FakeTwilio, startFakeTwilio, twilioErrorResponse } from '../fakes/twilio'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

const ACCOUNT_SID = `AC${'5f'.repeat(16)}`
const AUTH_TOKEN = '9b1c4e7d2a6f8e0b3c5d7f9a1b2c3d4e'
const SENDER = '+15005550006'

let gw: TestGateway
let fake: FakeTwilio
let key: string

beforeEach(async () => {
  gw = await startTestGateway()
  key = (await gw.tenant('acme')).key
})
afterEach(async () => {
  await fake?.stop()
  await gw.close()
})

test('21611 (sender queue full) is retried like a rate limit, not failed at once', async () => {
  fake = startFakeTwilio({
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    respond: (_r, n) =>
      n === 1 ? twilioErrorResponse(400, 21611, "This 'From' number has exceeded the maximum number of queued messages") : undefined,
  })
  const res = await gw.call('POST', '/v1/namespaces/acme/channels', key, {
    name: 'sms',
    type: 'twilio-sms',
    config: { account_sid: ACCOUNT_SID, auth_token: AUTH_TOKEN, base_url: fake.url },
  })
  expect(res.status).toBe(201)
  expect((await gw.call('POST', '/v1/namespaces/acme/channels/sms/terminals', key, { address: SENDER })).status).toBe(201)
  await gw.startEngine()
  const sent = await gw.call('POST', '/v1/namespaces/acme/messages', key, { channel: 'sms', to: '+15551230001', content: { text: 'hi' } })
  const { id } = (await sent.json()) as { id: string }
  const done = await eventually(async () => {
    const m = (await (await gw.call('GET', `/v1/namespaces/acme/messages/${id}`, key)).json()) as { status: string; attempts: number }
    return ['sent', 'failed'].includes(m.status) && m
  })
  expect(done).toMatchObject({ status: 'sent', attempts: 2 })
})
