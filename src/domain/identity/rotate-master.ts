/**
 * Master-key rotation: every secret sealed under the master key — channel credentials, webhook
 * signing secrets, token signing keys — opened with the old key and sealed again with the new
 * one, all in one transaction, so the store is never half old, half new.
 */
import { eq } from 'drizzle-orm'
import type { SecretBox } from '../../lib/secrets'
import { channels, signingKeys, webhooks } from '../../store/schema'
import type { Db, Store } from '../../store/store'

export interface MasterKeyRotation {
  channels: number
  webhooks: number
  signingKeys: number
}

/** A sealed secret the old key does not open: nothing was changed. */
export class MasterKeyMismatchError extends Error {}

/** Each table holding sealed secrets, with the associated data each row was sealed with (its id). */
const SEALED = [
  { what: 'channel', count: 'channels', table: channels, id: channels.id, column: channels.configEnc, field: 'configEnc' },
  { what: 'webhook', count: 'webhooks', table: webhooks, id: webhooks.id, column: webhooks.secretsEnc, field: 'secretsEnc' },
  { what: 'signing key', count: 'signingKeys', table: signingKeys, id: signingKeys.id, column: signingKeys.privateEnc, field: 'privateEnc' },
] as const

async function resealTable(tx: Db, sealed: (typeof SEALED)[number], oldBox: SecretBox, newBox: SecretBox): Promise<number> {
  const rows = await tx.select({ id: sealed.id, enc: sealed.column }).from(sealed.table)
  for (const row of rows) {
    let plaintext: string
    try {
      plaintext = oldBox.open(row.enc, row.id)
    } catch {
      throw new MasterKeyMismatchError(
        `the current master key does not open the secrets of ${sealed.what} ${row.id} (were they already re-encrypted with another key?); nothing was changed`,
      )
    }
    await tx
      .update(sealed.table)
      .set({ [sealed.field]: newBox.seal(plaintext, row.id) })
      .where(eq(sealed.id, row.id))
  }
  return rows.length
}

/**
 * Re-encrypts every sealed secret from `oldBox` to `newBox` in one transaction. Processes that
 * still hold the old key must be restarted with the new one before they write a secret again.
 */
export async function rotateMasterKey(store: Store, oldBox: SecretBox, newBox: SecretBox): Promise<MasterKeyRotation> {
  return store.tx(async (tx) => {
    const counts: MasterKeyRotation = { channels: 0, webhooks: 0, signingKeys: 0 }
    for (const sealed of SEALED) counts[sealed.count] = await resealTable(tx, sealed, oldBox, newBox)
    return counts
  })
}
