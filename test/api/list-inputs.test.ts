/**
 * List and suppression inputs: a whitespace-only suppression recipient is refused (it was stored
 * as an empty entry no DELETE can name), and a message cursor that no page returned is a 422
 * naming cursor (it silently restarted or ended the list), as is a forged suppression cursor.
 */
import { afterEach, beforeEach, expect, test } from 'bun:test'
import { startTestGateway, type TestGateway } from '../helpers/gateway'
import { expectProblem, fieldsOf } from '../helpers/problems'

let gw: TestGateway
let ns: Awaited<ReturnType<TestGateway['tenant']>>
const M = '/v1/namespaces/acme/messages'
const S = '/v1/namespaces/acme/suppressions'
beforeEach(async () => {
  gw = await startTestGateway()
  ns = await gw.tenant('acme')
  await gw.channel(ns.namespaceId, 'sandbox')
})
afterEach(() => gw.close())

test('a whitespace-only suppression recipient is refused (not stored as an empty, undeletable entry)', async () => {
  const res = await gw.call('POST', S, ns.key, { channel_type: 'sandbox', recipient: '   ' })
  const list = (await (await gw.call('GET', S, ns.key)).json()) as { data: { recipient: string }[] }
  expect(list.data.map((e) => e.recipient)).not.toContain('')
  expect(fieldsOf(await expectProblem(res, 422, 'validation_failed'))).toEqual(['recipient'])
})

test('a message list cursor that no page returned is a 422 naming cursor (as on suppressions), not a silent restart', async () => {
  for (let i = 0; i < 2; i++) expect((await gw.call('POST', M, ns.key, { channel: 'sandbox', to: 'a', content: { text: `m${i}` } })).status).toBe(202)
  const bad = await gw.call('GET', `${M}?limit=1&cursor=zzz`, ns.key)
  expect(fieldsOf(await expectProblem(bad, 422, 'validation_failed'))).toEqual(['cursor'])
})

test('a suppression cursor whose time is not a whole number (1e400 parses as Infinity) is a 422 naming cursor', async () => {
  const forged = Buffer.from('[1e400,"sandbox","a"]').toString('base64url')
  const bad = await gw.call('GET', `${S}?cursor=${forged}`, ns.key)
  expect(fieldsOf(await expectProblem(bad, 422, 'validation_failed'))).toEqual(['cursor'])
})
