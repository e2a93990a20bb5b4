/** Run by sent-completions-provider-ids.test.ts in a child process: a batch `sent` completion on libSQL with a lone-surrogate provider id. */
import { completeSentAttempts } from '../../src/domain/messages/dispatch'
import { insertMessages } from '../../src/domain/messages/rows'
import { channels, namespaces } from '../../src/store/schema'
import { migratedStore, storeDrivers, tempDir } from '../helpers/stores'

const T = 1_700_000_000_000
const dir = tempDir()
try {
  const store = await migratedStore(storeDrivers.find((d) => d.name === 'libsql')!, dir.path)
  await store.tx(async (tx) => {
    await tx.insert(namespaces).values({ id: 'ns_1', slug: 'acme', name: 'Acme', createdAt: 1, updatedAt: 1 } as never)
    await tx.insert(channels).values({ id: 'ch_1', namespaceId: 'ns_1', name: 'http', type: 'http', configEnc: 'x', createdAt: 1, updatedAt: 1 } as never)
    await insertMessages(tx, [
      {
        id: 'msg_all', namespaceId: 'ns_1', channelId: 'ch_1', terminalId: null, applicationId: null, direction: 'outbound', status: 'sending',
        sender: null, recipient: 'alice@example.com', content: { text: 'hi' }, metadata: {}, options: {}, sendAt: null, nextAttemptAt: T,
        attempts: 1, leaseOwner: 'me', leaseUntil: T + 60_000, providerMessageId: null, errorCode: null, errorMessage: null, createdAt: T, updatedAt: T,
      },
    ])
  })
  const providerMessageId = JSON.parse('{"id":"\\ud800x"}').id as string
  const recorded = await store.write((tx) =>
    completeSentAttempts(tx, 'me', [
      { message: { id: 'msg_all', namespaceId: 'ns_1', channelId: 'ch_1', attempts: 1 }, outcome: { kind: 'sent', providerMessageId, confirmed: 'sent' }, at: T + 10 },
    ]),
  )
  console.log(`recorded: ${JSON.stringify(recorded)}`)
  await store.close()
} finally {
  dir.cleanup()
}
