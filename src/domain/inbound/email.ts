/**
 * E-mail on the inbound side: which smtp channel an address belongs to, what a received mail,
 * bounce or complaint changes, and the one-click unsubscribe links of outbound mail (RFC 8058).
 */
import { and, eq } from 'drizzle-orm'
import { bounceUpdate, type ReceivedMail } from '../../connectors/smtp/inbound'
import { channels, messages, terminals } from '../../store/schema'
import type { Channel } from '../channels'
import { mailboxKey, smtpMailboxes } from '../channels/resolve'
import { type Deps, now } from '../deps'
import { errors } from '../errors'
import { normalizeRecipient, suppress } from '../suppressions'
import { recordInbound } from './index'

/** Associated data of unsubscribe tokens: a sealed channel config can never pass for one. */
const UNSUBSCRIBE_PURPOSE = 'unsubscribe'

interface UnsubscribeToken {
  /** channel id: names the namespace and the channel type */
  c: string
  /** recipient */
  r: string
}

/**
 * The one-click unsubscribe link for a recipient of a channel. The token is sealed (AES-GCM under
 * the master key), so nobody can forge one for another address, nor read the address out of it.
 */
export function unsubscribeUrl(deps: Pick<Deps, 'box' | 'publicUrl'>, channelId: string, recipient: string): string {
  const token: UnsubscribeToken = { c: channelId, r: normalizeRecipient(recipient) }
  return `${deps.publicUrl}/unsubscribe/${deps.box.sealJson(token, UNSUBSCRIBE_PURPOSE)}`
}

/** The channel and recipient an unsubscribe token stands for, or a 404. */
async function openUnsubscribeToken(deps: Deps, token: string): Promise<{ channel: Channel; recipient: string }> {
  const invalid = () => errors.notFound('this unsubscribe link is not valid')
  let payload: UnsubscribeToken
  try {
    payload = deps.box.openJson<UnsubscribeToken>(token, UNSUBSCRIBE_PURPOSE)
  } catch {
    throw invalid()
  }
  if (typeof payload?.c !== 'string' || typeof payload.r !== 'string') throw invalid()
  const channel = (await deps.store.read.select().from(channels).where(eq(channels.id, payload.c)))[0]
  if (!channel) throw invalid()
  return { channel, recipient: payload.r }
}

/** Checks a token without acting on it (the confirmation page). */
export async function checkUnsubscribeToken(deps: Deps, token: string): Promise<{ recipient: string }> {
  return { recipient: (await openUnsubscribeToken(deps, token)).recipient }
}

/** Puts the token's recipient on its namespace's suppression list for the channel's type. */
export async function unsubscribe(deps: Deps, token: string): Promise<{ recipient: string }> {
  const { channel, recipient } = await openUnsubscribeToken(deps, token)
  await deps.store.write((tx) =>
    suppress(tx, channel.namespaceId, { channelType: channel.type, recipient, reason: 'opt-out', detail: 'one-click unsubscribe' }, now(deps)),
  )
  return { recipient }
}

/**
 * The smtp channel that owns `address` as a terminal (in any namespace), with the terminal's
 * address as stored; when several terminals claim the address, the oldest one wins. Addresses
 * compare case-insensitively.
 */
export async function findMailChannel(deps: Pick<Deps, 'store'>, address: string): Promise<{ channel: Channel; address: string } | null> {
  const box = (await smtpMailboxes(deps.store)).get(mailboxKey(address))
  if (!box) return null
  const [channel] = await deps.store.read.select().from(channels).where(eq(channels.id, box.channelId))
  return channel ? { channel, address: box.address } : null
}

/** The outbound message of `channel` a report names by its Message-ID. */
async function reportedMessage(deps: Deps, channel: Channel, messageId: string | undefined) {
  if (!messageId) return undefined
  const rows = await deps.store.read
    .select({ id: messages.id, recipient: messages.recipient })
    .from(messages)
    .where(and(eq(messages.channelId, channel.id), eq(messages.providerMessageId, messageId), eq(messages.direction, 'outbound')))
  return rows[0]
}

/**
 * Stores what a mail to `to` (a terminal of `channel`) amounts to; replays change nothing.
 * Anybody can send mail to a terminal, so a report only counts when it names a message this
 * channel sent, and it suppresses the address that message went to, never an address the
 * report merely mentions (which also gets forwarded mailboxes right).
 */
export async function recordReceivedMail(deps: Deps, channel: Channel, to: string, mail: ReceivedMail): Promise<'message' | 'report' | 'ignored'> {
  if (mail.kind === 'message') {
    await recordInbound(deps, channel, { messages: [{ ...mail.message, to }] })
    return 'message'
  }
  const { report } = mail
  const original = await reportedMessage(deps, channel, report.originalMessageId)
  if (!original) return 'ignored'
  if (report.kind === 'bounce') {
    const update = bounceUpdate(report, original.recipient)
    if (update) await recordInbound(deps, channel, { statuses: [update] })
    return 'report'
  }
  // A complaint proves delivery rather than failure: the message keeps its status.
  const detail = `${report.feedbackType} report about ${report.originalMessageId}`
  await deps.store.write((tx) =>
    suppress(tx, channel.namespaceId, { channelType: channel.type, recipient: original.recipient, reason: 'complaint', detail }, now(deps)),
  )
  return 'report'
}
