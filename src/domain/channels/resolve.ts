/**
 * The send path's view of a channel: resolved by name or id, with its terminals, cached briefly
 * so ingest does not read the channel on every request. Changes made in this process clear the
 * cache at once; changes from another process are seen within the TTL.
 */
import { and, asc, eq, or } from 'drizzle-orm'
import { TtlCache } from '../../lib/ttl-cache'
import { channels, terminals } from '../../store/schema'
import type { Store } from '../../store/store'

const CHANNEL_CACHE_TTL_MS = 1000

export interface ResolvedChannel {
  id: string
  name: string
  type: string
  status: string
  terminals: { id: string; address: string; isDefault: boolean }[]
}

const cache = new TtlCache<ResolvedChannel | null>(CHANNEL_CACHE_TTL_MS)
const mailboxes = new TtlCache<Map<string, { channelId: string; address: string }>>(CHANNEL_CACHE_TTL_MS)

export function invalidateChannelCache(): void {
  cache.clear()
  mailboxes.clear()
}

/**
 * An e-mail address as mailboxes compare: trimmed, NFC, lower-cased by JavaScript (all of
 * Unicode). Never SQLite's lower(), which only folds ASCII: `ÉQUIPE@…` and `équipe@…` must be
 * one mailbox, or a second tenant could claim another's address in other case and get its mail.
 */
export function mailboxKey(address: string): string {
  return address.trim().normalize('NFC').toLowerCase()
}

/** Every smtp terminal by its mailbox key; when several claim one address, the oldest wins. */
export async function smtpMailboxes(store: Store): Promise<Map<string, { channelId: string; address: string }>> {
  const hit = mailboxes.get('')
  if (hit) return hit
  const rows = await store.read
    .select({ channelId: terminals.channelId, address: terminals.address })
    .from(terminals)
    .innerJoin(channels, eq(channels.id, terminals.channelId))
    .where(eq(channels.type, 'smtp'))
    .orderBy(asc(terminals.createdAt), asc(terminals.id))
  const map = new Map<string, { channelId: string; address: string }>()
  for (const row of rows) {
    const key = mailboxKey(row.address)
    if (!map.has(key)) map.set(key, row)
  }
  mailboxes.set('', map)
  return map
}

/** The channel a message names, or null when the namespace has no such channel. */
export async function resolveChannel(store: Store, namespaceId: string, ref: string): Promise<ResolvedChannel | null> {
  const key = `${namespaceId}\u0000${ref}`
  const hit = cache.get(key)
  if (hit !== undefined) return hit
  const rows = await store.read
    .select({ id: channels.id, name: channels.name, type: channels.type, status: channels.status })
    .from(channels)
    .where(and(eq(channels.namespaceId, namespaceId), or(eq(channels.id, ref), eq(channels.name, ref))))
  let resolved: ResolvedChannel | null = null
  if (rows[0]) {
    const owned = await store.read
      .select({ id: terminals.id, address: terminals.address, isDefault: terminals.isDefault })
      .from(terminals)
      .where(eq(terminals.channelId, rows[0].id))
    resolved = { ...rows[0], terminals: owned }
  }
  cache.set(key, resolved)
  return resolved
}
