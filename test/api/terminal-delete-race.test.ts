/**
 * The send path resolves a channel's terminals from a cache (1 s; a change clears it at once
 * only in the process that made it) and inserts the message with that terminal's id. A terminal
 * deleted meanwhile, by another instance, fails the insert's foreign key: the send reads the
 * channel afresh and answers as it would have (it answered 500). Another instance is simulated
 * by deleting the row without clearing the cache, as that instance's deletion would.
 */
import { afterEach, beforeEach, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { all } from '../../src/store/raw'
import { terminals } from '../../src/store/schema'
import { startTestGateway, type TestGateway } from '../helpers/gateway'

const errorsLogged: string[] = []
const log = { debug() {}, info() {}, warn() {}, error: (m: string, f?: Record<string, unknown>) => void errorsLogged.push(`${m} ${String(f?.error ?? '')}`) }
let gw: TestGateway
let ns: Awaited<ReturnType<TestGateway['tenant']>>
beforeEach(async () => {
  errorsLogged.length = 0
  gw = await startTestGateway({}, { log })
  ns = await gw.tenant('acme')
  await gw.channel(ns.namespaceId, 'sb')
  for (const address of ['alerts', 'billing']) {
    expect((await gw.call('POST', '/v1/namespaces/acme/channels/sb/terminals', ns.key, { address })).status).toBe(201)
  }
})
afterEach(() => gw.close())

const send = (from?: string) => gw.call('POST', '/v1/namespaces/acme/messages', ns.key, { channel: 'sb', ...(from ? { from } : {}), to: 'bob', content: { text: 'hi' } })
/** Another instance deletes the terminal: this process's cache still has it. */
const deleteElsewhere = () => gw.deps.store.tx((tx) => tx.delete(terminals).where(eq(terminals.address, 'alerts')))
const stored = () => all<{ sender: string | null }>(gw.deps.store.read, 'SELECT sender FROM messages ORDER BY id')

test('a send naming a terminal deleted meanwhile is refused naming `from`, not a 500', async () => {
  expect((await send('alerts')).status).toBe(202) // warms the cache, as steady traffic does
  await deleteElsewhere()
  const sent = await send('alerts')
  expect(errorsLogged.join('\n')).not.toContain('FOREIGN KEY')
  expect(sent.status).toBe(422)
  expect(((await sent.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual(['from'])
  expect(await stored()).toEqual([{ sender: 'alerts' }]) // the first one only
})

test('a send whose default terminal was deleted meanwhile goes out from the channel\'s other terminal', async () => {
  expect((await send()).status).toBe(202)
  await deleteElsewhere()
  const sent = await send()
  expect(sent.status).toBe(202)
  expect(errorsLogged).toEqual([])
  expect(await stored()).toEqual([{ sender: 'alerts' }, { sender: 'billing' }])
})
