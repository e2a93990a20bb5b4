/**
 * completeSentAttempts when one batch holds two successes of the same message: a stale attempt
 * (this dispatcher's lease ran out while the send was out, and it claimed the message again
 * before both answers came back) or the same success twice. As completeAttempt does, only the
 * attempt that holds the lease is recorded, once: no second `sent`/`delivered` events, counts
 * or webhooks for the stale one.
 */
import { describe, expect, test } from 'bun:test'
import { and, asc, eq } from 'drizzle-orm'
import { completeAttempt, completeSentAttempts, type SentCompletion } from '../../src/domain/messages/dispatch'
import { messageEvents, messageRollups, messages } from '../../src/store/schema'
import type { Store } from '../../src/store/store'
import { leasedMessage, seedOutbox, T0 as T } from '../helpers/outbox'
import { migratedStores, storeDrivers } from '../helpers/stores'

const openStore = migratedStores()

/** Attempt 1 (stale: the row has since been claimed again, attempts = 2) and attempt 2, both sent. */
const twoAttempts = (id: string): SentCompletion[] => [
  { message: leasedMessage(id, { attempts: 1 }), outcome: { kind: 'sent', providerMessageId: 'p-1', confirmed: 'delivered' }, at: T + 100 },
  { message: leasedMessage(id, { attempts: 2 }), outcome: { kind: 'sent', providerMessageId: 'p-2', confirmed: 'delivered' }, at: T + 101 },
]

for (const driver of storeDrivers) {
  describe(driver.name, () => {
    async function open(): Promise<Store> {
      const store = await openStore(driver)
      // Both rows: claimed a second time by the same owner (attempts 2).
      await seedOutbox(store, [leasedMessage('msg_one', { attempts: 2 }), leasedMessage('msg_all', { attempts: 2 })])
      return store
    }

    const timeline = async (store: Store, id: string) =>
      (await store.read.select().from(messageEvents).where(eq(messageEvents.messageId, id)).orderBy(asc(messageEvents.id))).map((e) => [
        e.status,
        e.attempt,
        e.providerMessageId,
      ])
    /** `sent` in the hour rollups of the channel (both messages count there). */
    const sentCount = async (store: Store) =>
      (await store.read.select().from(messageRollups).where(and(eq(messageRollups.granularity, 'hour'), eq(messageRollups.status, 'sent')))).reduce(
        (n, r) => n + r.count,
        0,
      )

    test('a stale attempt of a message re-claimed by the same owner is not recorded next to the current one', async () => {
      const store = await open()

      // The per-message path: the stale attempt is refused, the current one recorded.
      const one: boolean[] = []
      for (const item of twoAttempts('msg_one')) one.push(await completeAttempt(store, 'me', item.message, item.outcome, item.at))
      expect(one).toEqual([false, true])
      expect(await timeline(store, 'msg_one')).toEqual([
        ['sent', 2, 'p-2'],
        ['delivered', 2, 'p-2'],
      ])
      const sentAfterOne = await sentCount(store)
      expect(sentAfterOne).toBe(1)

      // The batched path must say and write the same.
      const all = await store.write((tx) => completeSentAttempts(tx, 'me', twoAttempts('msg_all')))
      expect({ recorded: all, timeline: await timeline(store, 'msg_all'), sentCounted: (await sentCount(store)) - sentAfterOne }).toEqual({
        recorded: [false, true],
        timeline: [
          ['sent', 2, 'p-2'],
          ['delivered', 2, 'p-2'],
        ],
        sentCounted: 1,
      })
    })

    test('the same success added twice is recorded once', async () => {
      const store = await open()
      const item = twoAttempts('msg_all')[1]!
      const all = await store.write((tx) => completeSentAttempts(tx, 'me', [item, item]))
      // completeAttempt twice: true, then false (the lease is gone).
      expect(all).toEqual([true, false])
      expect(await timeline(store, 'msg_all')).toEqual([
        ['sent', 2, 'p-2'],
        ['delivered', 2, 'p-2'],
      ])
    })
  })
}
