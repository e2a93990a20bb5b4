/** The suppression list over the API, and what it does to sends. */
import { afterEach, beforeEach, expect, test } from 'bun:test'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

let gw: TestGateway
let ns: Awaited<ReturnType<TestGateway['tenant']>>
beforeEach(async () => {
  gw = await startTestGateway()
  ns = await gw.tenant('acme')
  await gw.channel(ns.namespaceId, 'sandbox')
})
afterEach(() => gw.close())

const list = async (query = '') =>
  (await (await gw.call('GET', `/v1/namespaces/acme/suppressions${query}`, ns.key)).json()) as { data: any[]; next_cursor: string | null }

test('add, list (e-mail addresses normalised), remove', async () => {
  expect((await gw.call('POST', '/v1/namespaces/acme/suppressions', ns.key, { channel_type: 'smtp', recipient: 'Bob@Example.com', detail: 'asked by phone' })).status).toBe(204)
  expect((await gw.call('POST', '/v1/namespaces/acme/suppressions', ns.key, { channel_type: 'twilio-sms', recipient: '+15550001111' })).status).toBe(204)
  const all = await list()
  expect(all.data.map((s) => [s.channel_type, s.recipient, s.reason])).toEqual(
    expect.arrayContaining([
      ['smtp', 'bob@example.com', 'manual'],
      ['twilio-sms', '+15550001111', 'manual'],
    ]),
  )
  expect((await list('?channel_type=smtp')).data).toHaveLength(1)
  expect((await gw.call('DELETE', '/v1/namespaces/acme/suppressions/smtp/bob%40example.com', ns.key)).status).toBe(204)
  expect((await gw.call('DELETE', '/v1/namespaces/acme/suppressions/smtp/bob%40example.com', ns.key)).status).toBe(404)
  expect((await list('?channel_type=smtp')).data).toHaveLength(0)
})

test('pagination walks every entry once; a bad cursor is a 422 naming it', async () => {
  for (let i = 0; i < 5; i++) {
    await gw.call('POST', '/v1/namespaces/acme/suppressions', ns.key, { channel_type: 'sandbox', recipient: `r${i}` })
  }
  const seen: string[] = []
  let cursor: string | null = null
  do {
    const page = await list(`?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
    seen.push(...page.data.map((s) => s.recipient))
    cursor = page.next_cursor
  } while (cursor)
  expect(seen.sort()).toEqual(['r0', 'r1', 'r2', 'r3', 'r4'])
  const bad = await gw.call('GET', '/v1/namespaces/acme/suppressions?cursor=nonsense', ns.key)
  expect(bad.status).toBe(422)
  expect(((await bad.json()) as any).errors[0].field).toBe('cursor')
})

test('a send to a suppressed recipient fails at once with recipient_suppressed; other channel types are unaffected', async () => {
  await gw.call('POST', '/v1/namespaces/acme/suppressions', ns.key, { channel_type: 'sandbox', recipient: 'carol@example.com' })
  await gw.startEngine()
  const res = await gw.call('POST', '/v1/namespaces/acme/messages', ns.key, { channel: 'sandbox', to: 'Carol@Example.com', content: { text: 'hi' } })
  const { id } = (await res.json()) as { id: string }
  const done = await eventually(async () => {
    const m = (await (await gw.call('GET', `/v1/namespaces/acme/messages/${id}`, ns.key)).json()) as any
    return m.status === 'failed' && m
  })
  expect(done.error.code).toBe('recipient_suppressed')
  expect(done.events.at(-1)).toMatchObject({ status: 'failed', error: { code: 'recipient_suppressed', class: 'permanent' } })
})

test('suppressions of another namespace are invisible and do not apply', async () => {
  const other = await gw.tenant('other')
  await gw.call('POST', '/v1/namespaces/other/suppressions', other.key, { channel_type: 'sandbox', recipient: 'dan@example.com' })
  expect((await list()).data).toHaveLength(0)
  await gw.startEngine()
  const { id } = (await (await gw.call('POST', '/v1/namespaces/acme/messages', ns.key, { channel: 'sandbox', to: 'dan@example.com', content: { text: 'hi' } })).json()) as { id: string }
  await eventually(async () => ((await (await gw.call('GET', `/v1/namespaces/acme/messages/${id}`, ns.key)).json()) as any).status === 'delivered')
})

test('a batch claimed together is checked per namespace, channel type and normalised recipient', async () => {
  const other = await gw.tenant('other')
  await gw.channel(other.namespaceId, 'sandbox')
  for (const [type, recipient] of [['sandbox', 'carol@example.com'], ['sandbox', '+15550001111'], ['http', 'dave@example.com']]) {
    expect((await gw.call('POST', '/v1/namespaces/acme/suppressions', ns.key, { channel_type: type, recipient })).status).toBe(204)
  }
  // Queued before the engine starts, so one claim takes them all.
  const send = async (slug: string, key: string, to: string) =>
    ((await (await gw.call('POST', `/v1/namespaces/${slug}/messages`, key, { channel: 'sandbox', to, content: { text: 'hi' } })).json()) as { id: string }).id
  const sent = {
    carol: await send('acme', ns.key, 'Carol@Example.com'),
    phone: await send('acme', ns.key, '15550001111'),
    dave: await send('acme', ns.key, 'dave@example.com'),
    erin: await send('acme', ns.key, 'erin@example.com'),
    otherCarol: await send('other', other.key, 'carol@example.com'),
  }
  await gw.startEngine()
  const final = async (slug: string, key: string, id: string) =>
    eventually(async () => {
      const m = (await (await gw.call('GET', `/v1/namespaces/${slug}/messages/${id}`, key)).json()) as any
      return ['failed', 'delivered'].includes(m.status) && m
    })
  const outcome = async (slug: string, key: string, id: string) => {
    const m = await final(slug, key, id)
    return m.status === 'failed' ? m.error.code : m.status
  }
  expect({
    carol: await outcome('acme', ns.key, sent.carol),
    phone: await outcome('acme', ns.key, sent.phone),
    dave: await outcome('acme', ns.key, sent.dave),
    erin: await outcome('acme', ns.key, sent.erin),
    otherCarol: await outcome('other', other.key, sent.otherCarol),
  }).toEqual({ carol: 'recipient_suppressed', phone: 'recipient_suppressed', dave: 'delivered', erin: 'delivered', otherCarol: 'delivered' })
})
