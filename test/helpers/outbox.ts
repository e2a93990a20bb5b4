/**
 * Outbox rows for tests of the hand-written SQL on both drivers: namespace `ns_1` with one http
 * channel `ch_1`, and messages already claimed (`sending`, leased) by an owner.
 */
import { insertMessages } from '../../src/domain/messages/rows'
import type { Message } from '../../src/domain/messages/views'
import { channels, namespaces } from '../../src/store/schema'
import type { Store } from '../../src/store/store'

export const T0 = 1_700_000_000_000

/** A message claimed at T0 by `me` (attempt 1), leased for a minute; `over` changes any column. */
export function leasedMessage(id: string, over: Partial<Message> = {}): Message {
  return {
    id,
    namespaceId: 'ns_1',
    channelId: 'ch_1',
    terminalId: null,
    applicationId: null,
    direction: 'outbound',
    status: 'sending',
    sender: null,
    recipient: 'alice@example.com',
    content: { text: 'hi' },
    metadata: {},
    options: {},
    sendAt: null,
    nextAttemptAt: T0,
    attempts: 1,
    leaseOwner: 'me',
    leaseUntil: T0 + 60_000,
    providerMessageId: null,
    errorCode: null,
    errorMessage: null,
    createdAt: T0,
    updatedAt: T0,
    ...over,
  }
}

/** Writes `ns_1`, its channel `ch_1` and `messages` in one transaction. */
export async function seedOutbox(store: Store, messages: Message[]): Promise<void> {
  await store.tx(async (tx) => {
    await tx.insert(namespaces).values({ id: 'ns_1', slug: 'acme', name: 'Acme', createdAt: 1, updatedAt: 1 } as never)
    await tx.insert(channels).values({ id: 'ch_1', namespaceId: 'ns_1', name: 'http', type: 'http', configEnc: 'x', createdAt: 1, updatedAt: 1 } as never)
    await insertMessages(tx, messages)
  })
}
