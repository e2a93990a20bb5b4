/**
 * Successful attempts recorded together (completeSentAttempts, src/domain/messages/dispatch.ts),
 * on both drivers: each row and its events as completeAttempt writes them, only where the lease
 * still holds, and a provider's report that arrived before the send was recorded applied.
 */
import { describe, expect, test } from 'bun:test'
import { asc, eq } from 'drizzle-orm'
import { completeSentAttempts } from '../../src/domain/messages/dispatch'
import { insertMessages } from '../../src/domain/messages/rows'
import { channels, messageEvents, messages, pendingStatuses } from '../../src/store/schema'
import type { Store } from '../../src/store/store'
import { leasedMessage, seedOutbox, T0 as T } from '../helpers/outbox'
import { migratedStores, storeDrivers } from '../helpers/stores'

const openStore = migratedStores()

for (const driver of storeDrivers) {
  describe(driver.name, () => {
    async function open(): Promise<Store> {
      const store = await openStore(driver)
      const earlier = { providerMessageId: 'from-an-earlier-attempt', errorCode: 'http_503', errorMessage: 'the first attempt failed' }
      await seedOutbox(store, [leasedMessage('msg_a', earlier), leasedMessage('msg_b', earlier), leasedMessage('msg_c', { ...earlier, leaseOwner: 'someone-else' })])
      // The provider reported msg_a delivered before its API answer was recorded.
      await store.tx((tx) => tx.insert(pendingStatuses).values({ id: 'pst_1', channelId: 'ch_1', providerMessageId: 'p-a', status: 'delivered', occurredAt: T + 5, createdAt: T + 5 }))
      return store
    }

    test('each recorded with its own status, provider id, time and events; a lost lease is left alone', async () => {
      const store = await open()
      const at = (n: number) => T + 1000 + n
      const recorded = await store.write((tx) =>
        completeSentAttempts(tx, 'me', [
          { message: leasedMessage('msg_a', { attempts: 1 }), outcome: { kind: 'sent', providerMessageId: 'p-a', confirmed: 'sent' }, at: at(1) },
          { message: leasedMessage('msg_b', { attempts: 1 }), outcome: { kind: 'sent', confirmed: 'delivered' }, at: at(2) },
          { message: leasedMessage('msg_c', { attempts: 1 }), outcome: { kind: 'sent', providerMessageId: 'p-c', confirmed: 'sent' }, at: at(3) },
        ]),
      )
      expect(recorded).toEqual([true, true, false])

      const rows = Object.fromEntries((await store.read.select().from(messages)).map((m) => [m.id, m]))
      // msg_a: sent with its provider id, then the early report made it delivered.
      expect(rows.msg_a).toMatchObject({ status: 'delivered', providerMessageId: 'p-a', nextAttemptAt: null, errorCode: null, errorMessage: null, leaseOwner: null, leaseUntil: null, attempts: 1 })
      // msg_b: no provider id this time, so none is kept (as completeAttempt does).
      expect(rows.msg_b).toMatchObject({ status: 'delivered', providerMessageId: null, nextAttemptAt: null, errorCode: null, leaseOwner: null, updatedAt: at(2), attempts: 1 })
      // msg_c: another instance holds it; nothing changed.
      expect(rows.msg_c).toMatchObject({ status: 'sending', leaseOwner: 'someone-else', providerMessageId: 'from-an-earlier-attempt', updatedAt: T })

      const events = await store.read.select().from(messageEvents).orderBy(asc(messageEvents.messageId), asc(messageEvents.id))
      const of = (id: string) => events.filter((e) => e.messageId === id).map((e) => [e.status, e.attempt, e.providerMessageId, e.createdAt])
      expect(of('msg_a')).toEqual([
        ['sent', 1, 'p-a', at(1)],
        ['delivered', null, 'p-a', expect.any(Number)],
      ])
      expect(of('msg_b')).toEqual([
        ['sent', 1, null, at(2)],
        ['delivered', 1, null, at(2)],
      ])
      expect(of('msg_c')).toEqual([])
      expect(await store.read.select().from(pendingStatuses).where(eq(pendingStatuses.id, 'pst_1'))).toEqual([])
    })

    test('a report waiting for one channel applies to that channel\'s send only, in a batch across channels', async () => {
      const store = await openStore(driver)
      await seedOutbox(store, [leasedMessage('msg_1'), leasedMessage('msg_3')])
      await store.tx(async (tx) => {
        await tx.insert(channels).values({ id: 'ch_2', namespaceId: 'ns_1', name: 'http-2', type: 'http', configEnc: 'x', createdAt: 1, updatedAt: 1 } as never)
        await insertMessages(tx, [leasedMessage('msg_2', { channelId: 'ch_2' })])
        // Both channels' providers use the same id; the report is ch_2's.
        await tx.insert(pendingStatuses).values({ id: 'pst_2', channelId: 'ch_2', providerMessageId: 'same-id', status: 'delivered', occurredAt: T + 5, createdAt: T + 5 })
      })
      const sent = (id: string, channelId: string, providerMessageId: string) => ({
        message: leasedMessage(id, { channelId }),
        outcome: { kind: 'sent' as const, providerMessageId, confirmed: 'sent' as const },
        at: T + 1000,
      })
      const recorded = await store.write((tx) => completeSentAttempts(tx, 'me', [sent('msg_1', 'ch_1', 'same-id'), sent('msg_2', 'ch_2', 'same-id'), sent('msg_3', 'ch_1', 'other-id')]))
      expect(recorded).toEqual([true, true, true])
      const status = Object.fromEntries((await store.read.select().from(messages)).map((m) => [m.id, m.status]))
      expect(status).toEqual({ msg_1: 'sent', msg_2: 'delivered', msg_3: 'sent' })
      expect(await store.read.select().from(pendingStatuses)).toEqual([])
    })

    test('nothing to record writes nothing', async () => {
      const store = await open()
      expect(await store.write((tx) => completeSentAttempts(tx, 'me', []))).toEqual([])
      expect(await store.read.select().from(messageEvents)).toEqual([])
    })
  })
}
