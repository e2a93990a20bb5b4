/** Run by sent-completions-provider-ids.test.ts in a child process: a batch `sent` completion on libSQL with a lone-surrogate provider id. */
import { completeSentAttempts } from '../../src/domain/messages/dispatch'
import { leasedMessage, seedOutbox, T0 } from '../helpers/outbox'
import { migratedStore, storeDrivers, tempDir } from '../helpers/stores'

const dir = tempDir()
try {
  const store = await migratedStore(storeDrivers.find((d) => d.name === 'libsql')!, dir.path)
  await seedOutbox(store, [leasedMessage('msg_all')])
  const providerMessageId = JSON.parse('{"id":"\\ud800x"}').id as string
  const recorded = await store.write((tx) =>
    completeSentAttempts(tx, 'me', [
      { message: leasedMessage('msg_all', { attempts: 1 }), outcome: { kind: 'sent', providerMessageId, confirmed: 'sent' }, at: T0 + 10 },
    ]),
  )
  console.log(`recorded: ${JSON.stringify(recorded)}`)
  await store.close()
} finally {
  dir.cleanup()
}
