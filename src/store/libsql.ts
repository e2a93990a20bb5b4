import type { Client } from '@libsql/client/web'
import { drizzle } from 'drizzle-orm/libsql/web'
import * as schema from './schema'
import { CommitListeners, type CommitTopic, type Db, Mutex, type Store, withCommitScope, WriteQueue } from './store'

/**
 * libSQL store over any @libsql/client Client. The binary only ever passes the web client
 * (`@libsql/client/web`, no native addon); tests pass the native client on a `file:` URL.
 * drizzle's libsql `transaction()` awaits its callback and uses an interactive write
 * transaction, so atomicity comes from the server; the lock keeps this process's own
 * transactions from interleaving.
 */
export function openLibsqlStore(client: Client): Store {
  const db = drizzle(client, { schema }) as unknown as Db
  const lock = new Mutex()
  const listeners = new CommitListeners()
  const tx = <T>(fn: (tx: Db) => Promise<T>): Promise<T> =>
    lock.run(async () => {
      const touched = new Set<CommitTopic>()
      const result = (await (db as any).transaction((t: Db) => withCommitScope(t, fn, touched), { behavior: 'immediate' })) as T
      if (touched.size > 0) listeners.announce(touched)
      return result
    })
  const queue = new WriteQueue(tx)
  return {
    driver: 'libsql',
    read: db,
    tx,
    write: (fn) => queue.enqueue(fn),
    onCommit: (topic, fn) => listeners.add(topic, fn),
    exec: async (statement) => {
      await client.execute(statement)
    },
    close: async () => {
      await lock.run(async () => client.close())
    },
  }
}
