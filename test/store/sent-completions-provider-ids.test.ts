/**
 * Provider ids through json_each (completeSentAttempts) are stored as a bound parameter
 * (completeAttempt) stores them. A provider id is whatever the provider's JSON said (the http
 * connector keeps any string `id` of the receiver's answer), so it may hold a lone surrogate:
 * bound, it becomes U+FFFD; through JSON text SQLite would decode it into bytes that are not
 * UTF-8 (the row then differs from its event, a status report no longer finds the message, and
 * the native libSQL client aborts the process reading it back).
 */
import { describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { and, eq } from 'drizzle-orm'
import { completeAttempt, completeSentAttempts, type SentCompletion } from '../../src/domain/messages/dispatch'
import { messageEvents, messages } from '../../src/store/schema'
import type { Store } from '../../src/store/store'
import { leasedMessage, seedOutbox, T0 as T } from '../helpers/outbox'
import { migratedStores, storeDrivers } from '../helpers/stores'

const openStore = migratedStores()
/** What `JSON.parse('{"id":"\\ud800x"}').id` gives the http connector. */
const PROVIDER_ID = JSON.parse('{"id":"\\ud800x"}').id as string

const item = (id: string): SentCompletion => ({
  message: leasedMessage(id, { attempts: 1 }),
  outcome: { kind: 'sent', providerMessageId: PROVIDER_ID, confirmed: 'sent' },
  at: T + 10,
})

async function open(driver: (typeof storeDrivers)[number]): Promise<Store> {
  const store = await openStore(driver)
  await seedOutbox(store, [leasedMessage('msg_one'), leasedMessage('msg_all')])
  return store
}

describe('bun:sqlite', () => {
  test('a provider id with a lone surrogate is stored as completeAttempt stores it', async () => {
    const store = await open(storeDrivers.find((d) => d.name === 'bun:sqlite')!)
    const one = item('msg_one')
    expect(await completeAttempt(store, 'me', one.message, one.outcome, one.at)).toBe(true)
    expect(await store.write((tx) => completeSentAttempts(tx, 'me', [item('msg_all')]))).toEqual([true])

    const stored = async (id: string) => {
      const m = (await store.read.select().from(messages).where(eq(messages.id, id)))[0]!
      const e = (await store.read.select().from(messageEvents).where(eq(messageEvents.messageId, id)))[0]!
      // What a status report for this provider id looks the message up by (src/domain/inbound/index.ts).
      const found = await store.read
        .select({ id: messages.id })
        .from(messages)
        .where(and(eq(messages.channelId, 'ch_1'), eq(messages.providerMessageId, PROVIDER_ID), eq(messages.id, id)))
      return { row: m.providerMessageId, event: e.providerMessageId, foundByReport: found.length === 1 }
    }
    const perMessage = await stored('msg_one')
    expect(perMessage).toEqual({ row: '\uFFFDx', event: '\uFFFDx', foundByReport: true })
    expect(await stored('msg_all')).toEqual(perMessage)
  })
})

test('libsql (native client): recording such a provider id in a batch does not abort the process', async () => {
  // In a child process: the libSQL client panics (Rust) and aborts, taking the test runner with it.
  const script = join(import.meta.dir, 'sent-completions-provider-ids.child.ts')
  const child = Bun.spawn(['bun', script], { stdout: 'pipe', stderr: 'pipe', env: process.env })
  const [code, out, err] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()])
  expect({ code, out: out.trim(), panicked: /panicked/.test(err) }).toEqual({ code: 0, out: 'recorded: [true]', panicked: false })
}, 60_000)
