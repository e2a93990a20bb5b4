/** Terminals: addresses owned on a channel (a sender number, a From email, a bot). */
import { and, asc, eq, ne, or } from 'drizzle-orm'
import { newId } from '../../lib/ids'
import { channels, terminals } from '../../store/schema'
import type { Db } from '../../store/store'
import { type Deps, now } from '../deps'
import { errors, invalidField } from '../errors'
import { getChannel } from './index'
import { invalidateChannelCache, mailboxKey } from './resolve'

export type Terminal = typeof terminals.$inferSelect

export interface TerminalInput {
  address: string
  name?: string
  default?: boolean
}

export function terminalView(t: Terminal) {
  return {
    id: t.id,
    channel_id: t.channelId,
    address: t.address,
    name: t.name,
    default: t.isDefault,
    created_at: new Date(t.createdAt).toISOString(),
  }
}

/** Inserts a terminal inside an open transaction; the first one of a channel is its default. */
export async function insertTerminal(tx: Db, namespaceId: string, channelId: string, input: TerminalInput, at: number) {
  if (!input.address.trim()) throw invalidField('address', 'must not be empty')
  const existing = await tx.select().from(terminals).where(eq(terminals.channelId, channelId))
  if (existing.some((t) => t.address === input.address)) {
    throw errors.conflict(`terminal "${input.address}" already exists on this channel`)
  }
  // An inbound e-mail address belongs to one namespace: whoever claimed it first receives its
  // mail, so a second tenant must not be able to claim it (and read another's mail).
  const [channel] = await tx.select({ type: channels.type }).from(channels).where(eq(channels.id, channelId))
  if (channel?.type === 'smtp') {
    // Compared in JavaScript (mailboxKey), not with SQLite's ASCII-only lower().
    const others = await tx
      .select({ address: terminals.address })
      .from(terminals)
      .innerJoin(channels, eq(channels.id, terminals.channelId))
      .where(and(eq(channels.type, 'smtp'), ne(terminals.namespaceId, namespaceId)))
    const key = mailboxKey(input.address)
    if (others.some((o) => mailboxKey(o.address) === key)) throw errors.conflict(`the e-mail address "${input.address}" belongs to another namespace`)
  }
  const isDefault = input.default ?? existing.length === 0
  if (isDefault) await tx.update(terminals).set({ isDefault: false }).where(eq(terminals.channelId, channelId))
  const row: Terminal = {
    id: newId('term'),
    namespaceId,
    channelId,
    address: input.address,
    name: input.name ?? '',
    isDefault,
    createdAt: at,
    updatedAt: at,
  }
  await tx.insert(terminals).values(row)
  return row
}

export async function createTerminal(deps: Deps, namespaceId: string, channelRef: string, input: TerminalInput) {
  const channel = await getChannel(deps, namespaceId, channelRef)
  const row = await deps.store.tx((tx) => insertTerminal(tx, namespaceId, channel.id, input, now(deps)))
  invalidateChannelCache()
  return row
}

export async function listTerminals(deps: Deps, namespaceId: string, channelRef: string): Promise<Terminal[]> {
  const channel = await getChannel(deps, namespaceId, channelRef)
  return deps.store.read
    .select()
    .from(terminals)
    .where(and(eq(terminals.namespaceId, namespaceId), eq(terminals.channelId, channel.id)))
    .orderBy(asc(terminals.id))
}

async function findTerminal(deps: Deps, namespaceId: string, channelRef: string, ref: string) {
  const channel = await getChannel(deps, namespaceId, channelRef)
  const rows = await deps.store.read
    .select()
    .from(terminals)
    .where(
      and(
        eq(terminals.namespaceId, namespaceId),
        eq(terminals.channelId, channel.id),
        or(eq(terminals.id, ref), eq(terminals.address, ref)),
      ),
    )
  if (!rows[0]) throw errors.terminalNotFound(`terminal "${ref}" does not exist on channel "${channel.name}"`)
  return rows[0]
}

export async function updateTerminal(
  deps: Deps,
  namespaceId: string,
  channelRef: string,
  ref: string,
  patch: { name?: string; default?: boolean },
) {
  const terminal = await findTerminal(deps, namespaceId, channelRef, ref)
  const row = await deps.store.tx(async (tx) => {
    if (patch.default) {
      await tx
        .update(terminals)
        .set({ isDefault: false })
        .where(and(eq(terminals.channelId, terminal.channelId), ne(terminals.id, terminal.id)))
    }
    const rows = await tx
      .update(terminals)
      .set({
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.default !== undefined ? { isDefault: patch.default } : {}),
        updatedAt: now(deps),
      })
      .where(and(eq(terminals.id, terminal.id), eq(terminals.namespaceId, namespaceId)))
      .returning()
    return rows[0]!
  })
  invalidateChannelCache()
  return row
}

export async function deleteTerminal(deps: Deps, namespaceId: string, channelRef: string, ref: string) {
  const terminal = await findTerminal(deps, namespaceId, channelRef, ref)
  await deps.store.tx(async (tx) => {
    await tx.delete(terminals).where(and(eq(terminals.id, terminal.id), eq(terminals.namespaceId, namespaceId)))
  })
  invalidateChannelCache()
}
