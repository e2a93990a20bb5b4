/**
 * Provider callbacks and pulled updates: inbound messages become `received` messages of the
 * channel's namespace; status reports move the matching outbound message along and append an
 * event. Everything from one callback is written in one transaction, and replays change nothing.
 */
import { and, eq } from 'drizzle-orm'
import { getConnector } from '../../connectors/registry'
import { InboundError, type InboundMessage, type InboundResult, type StatusUpdate } from '../../connectors/types'
import { newId } from '../../lib/ids'
import { channels, messages, namespaces, pendingStatuses, terminals } from '../../store/schema'
import type { Db } from '../../store/store'
import { USER_AGENT } from '../../version'
import { countNewMessages } from '../analytics/rollups'
import { type Channel, openChannelConfig } from '../channels'
import { type Deps, now } from '../deps'
import { suppress, unsuppress } from '../suppressions'
import { emitMessageEvents } from '../webhooks/emit'
import { optOutIntent } from './opt-out'

export { applyPendingStatuses } from './statuses'
import { applyStatus } from './statuses'

/** Where a provider must send a channel's callbacks. */
export function inboundUrl(publicUrl: string, channelId: string): string {
  return `${publicUrl}/inbound/${channelId}`
}

/** Handles one request to `/inbound/{channel_id}`; returns what to answer the provider. */
export async function receiveCallback(deps: Deps, channelId: string, req: Request): Promise<Response> {
  const [row] = await deps.store.read
    .select({ channel: channels, namespaceStatus: namespaces.status })
    .from(channels)
    .innerJoin(namespaces, eq(namespaces.id, channels.namespaceId))
    .where(eq(channels.id, channelId))
  const channel = row?.channel
  const connector = channel && getConnector(channel.type)
  // A deleted (disabled) namespace takes nothing more in: its data waits for the purge.
  if (!channel || !connector?.parseInbound || row.namespaceStatus !== 'active') throw new InboundError(404, 'no channel takes callbacks at this address')
  const owned = await deps.store.read.select({ address: terminals.address }).from(terminals).where(eq(terminals.channelId, channel.id))
  const result = await connector.parseInbound(req, {
    config: openChannelConfig(deps, channel),
    fetch: deps.fetch,
    userAgent: USER_AGENT,
    channel: { id: channel.id, name: channel.name, type: channel.type },
    callbackUrl: inboundUrl(deps.publicUrl, channel.id),
    terminals: owned.map((t) => t.address),
  })
  await recordInbound(deps, channel, result)
  return result.response
}

export interface InboundReport {
  received: string[]
  duplicates: number
  statusesApplied: number
  statusesPending: number
}

/** Stores what a callback (or a listener) brought, in one transaction. */
export async function recordInbound(deps: Deps, channel: Channel, result: Omit<InboundResult, 'response'>): Promise<InboundReport> {
  const at = now(deps)
  const report: InboundReport = { received: [], duplicates: 0, statusesApplied: 0, statusesPending: 0 }
  if (!result.messages?.length && !result.statuses?.length) return report
  await deps.store.write(async (tx) => {
    for (const message of result.messages ?? []) {
      const id = await insertInbound(tx, channel, message, at)
      if (id) report.received.push(id)
      else report.duplicates++
    }
    for (const update of result.statuses ?? []) {
      if (update.suppress) {
        await suppress(tx, channel.namespaceId, { channelType: channel.type, ...update.suppress, detail: update.errorMessage }, at)
      }
      const applied = await applyStatusByProviderId(tx, channel, update, at)
      if (applied) report.statusesApplied++
      else report.statusesPending++
    }
  })
  return report
}

async function insertInbound(tx: Db, channel: Channel, message: InboundMessage, at: number): Promise<string | null> {
  if (message.providerMessageId) {
    // The same provider message twice (a retried webhook) is stored once.
    const seen = await tx
      .select({ id: messages.id })
      .from(messages)
      .where(and(eq(messages.channelId, channel.id), eq(messages.providerMessageId, message.providerMessageId), eq(messages.direction, 'inbound')))
    if (seen[0]) return null
  }
  const owned = await tx.select().from(terminals).where(eq(terminals.channelId, channel.id))
  const terminal = (message.to && owned.find((t) => t.address === message.to)) || owned.find((t) => t.isDefault) || owned[0]
  const id = newId('msg')
  await tx.insert(messages).values({
    id,
    namespaceId: channel.namespaceId,
    channelId: channel.id,
    terminalId: terminal?.id ?? null,
    direction: 'inbound',
    status: 'received',
    sender: message.from,
    recipient: message.to ?? terminal?.address ?? '',
    content: message.content,
    metadata: message.metadata ?? {},
    options: {},
    providerMessageId: message.providerMessageId ?? null,
    createdAt: at,
    updatedAt: at,
  })
  const [row] = await tx.select().from(messages).where(eq(messages.id, id))
  await countNewMessages(tx, [row!])
  await emitMessageEvents(tx, row!, [{ status: 'received', at }], at)
  const intent = optOutIntent(channel.type, message.content.text)
  if (intent === 'stop') {
    await suppress(tx, channel.namespaceId, { channelType: channel.type, recipient: message.from, reason: 'opt-out', detail: message.content.text?.trim() }, at)
  } else if (intent === 'start') {
    await unsuppress(tx, channel.namespaceId, channel.type, message.from, 'opt-out')
  }
  return id
}

/** Applies a status to its outbound message, or parks it until the send is recorded. */
async function applyStatusByProviderId(tx: Db, channel: Channel, update: StatusUpdate, at: number): Promise<boolean> {
  const rows = await tx
    .select()
    .from(messages)
    .where(
      and(
        eq(messages.channelId, channel.id),
        eq(messages.providerMessageId, update.providerMessageId),
        eq(messages.direction, 'outbound'),
      ),
    )
  if (rows[0]) {
    await applyStatus(tx, rows[0], update, at)
    return true
  }
  await tx.insert(pendingStatuses).values({
    id: newId('pst'),
    channelId: channel.id,
    providerMessageId: update.providerMessageId,
    status: update.status,
    errorCode: update.errorCode ?? null,
    errorMessage: update.errorMessage ?? null,
    occurredAt: update.at ?? at,
    createdAt: at,
  })
  return false
}

