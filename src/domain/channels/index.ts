/**
 * Channels: a namespace's configured connection to one provider. The connector config is
 * validated by the connector's schema, sealed with the master key, and masked in every view.
 */
import { and, count, desc, eq, or } from 'drizzle-orm'
import { getConnector, connectorTypes } from '../../connectors/registry'
import { maskUrl, urlProblem } from '../../lib/url-guard'
import { SLUG_PATTERN } from '../../lib/formats'
import { newId } from '../../lib/ids'
import { zodFieldErrors } from '../../lib/zod-errors'
import { channels, messages, terminals } from '../../store/schema'
import type { Db } from '../../store/store'
import { lastErrorView, successRates } from '../analytics/health'
import { type Deps, now } from '../deps'
import { errors, invalidField } from '../errors'
import { USER_AGENT } from '../../version'
import { invalidateChannelCache } from './resolve'

export type Channel = typeof channels.$inferSelect
/** A channel as read for its view: with its success rate over the last hour (analytics), when loaded. */
export type ChannelWithHealth = Channel & { successRate1h?: number | null }
export const CHANNEL_STATUSES = ['active', 'paused', 'failing'] as const

export interface ChannelInput {
  name: string
  type: string
  config?: Record<string, unknown>
  status?: 'active' | 'paused'
  max_attempts?: number | null
  max_age_seconds?: number | null
  /** Messages per second the dispatcher sends at most through the channel; null = no limit. */
  rate_limit?: number | null
}

/** The channel's config with secret values masked (and URLs cut to their origin): never a secret. */
export function maskConfig(type: string, config: Record<string, unknown>): Record<string, unknown> {
  const connector = getConnector(type)
  const secret = new Set(connector?.secretKeys ?? [])
  const urls = new Set(connector?.urlKeys ?? [])
  const mask = (v: unknown): unknown =>
    v !== null && typeof v === 'object'
      ? Object.fromEntries(Object.entries(v).map(([k, inner]) => [k, mask(inner)]))
      : typeof v === 'string' && v.length > 8
        ? `••••${v.slice(-4)}`
        : '••••'
  return Object.fromEntries(
    // A URL shows its origin only, which also hides a token in its path (Slack and Discord webhooks).
    Object.entries(config).map(([k, v]) => [k, urls.has(k) && typeof v === 'string' ? maskUrl(v) : secret.has(k) ? mask(v) : v]),
  )
}

export function openChannelConfig(deps: Pick<Deps, 'box'>, channel: Channel): Record<string, unknown> {
  return deps.box.openJson(channel.configEnc, channel.id)
}

export function channelView(deps: Pick<Deps, 'box' | 'publicUrl'>, channel: ChannelWithHealth) {
  const connector = getConnector(channel.type)
  return {
    id: channel.id,
    name: channel.name,
    type: channel.type,
    status: channel.status,
    config: maskConfig(channel.type, openChannelConfig(deps, channel)),
    capabilities: connector?.capabilities ?? [],
    /** Where to point the provider's callbacks (null when the type takes none). */
    inbound_url: connector?.parseInbound ? `${deps.publicUrl}/inbound/${channel.id}` : null,
    max_attempts: channel.maxAttempts,
    max_age_seconds: channel.maxAgeSeconds,
    rate_limit: channel.rateLimit,
    /** Attempt outcomes of the last hour, and the last provider error (docs/operations/analytics.md). */
    health: { success_rate_1h: channel.successRate1h ?? null, last_error: lastErrorView(channel) },
    created_at: new Date(channel.createdAt).toISOString(),
    updated_at: new Date(channel.updatedAt).toISOString(),
  }
}

/**
 * Validates a config against the connector's schema and checks its URLs with the guard.
 * `resolveHosts: false` (start-up reconcile) skips the DNS part, so the gateway starts without a
 * resolver; every send still passes the guard.
 */
export async function validateChannelConfig(
  deps: Deps,
  type: string,
  config: Record<string, unknown>,
  opts: { resolveHosts: boolean; previous?: Record<string, unknown> } = { resolveHosts: true },
) {
  const connector = getConnector(type)
  if (!connector) throw invalidField('type', `unknown channel type "${type}" (known: ${connectorTypes().join(', ')})`)
  const parsed = connector.configSchema.safeParse(config)
  if (!parsed.success) throw errors.validation('invalid channel config', zodFieldErrors(parsed.error, ['config']))
  const value = (connector.prepareConfig ? await connector.prepareConfig(parsed.data, opts.previous) : parsed.data) as Record<string, unknown>
  if (!opts.resolveHosts) return value
  if (connector.verifyConfig) {
    const problems = await connector.verifyConfig(value, deps.fetch)
    if (problems.length > 0) {
      throw errors.validation(`config.${problems[0]!.field}: ${problems[0]!.message}`, problems.map((p) => ({ field: `config.${p.field}`, message: p.message })))
    }
  }
  for (const key of connector.urlKeys ?? []) {
    if (typeof value[key] !== 'string') continue
    const problem = await urlProblem(value[key] as string, { allowPrivateNetwork: deps.limits.allowPrivateNetwork })
    if (problem) throw invalidField(`config.${key}`, problem)
  }
  return value
}

/** Inserts a channel inside an open transaction (config already validated). */
export async function insertChannel(
  deps: Deps,
  tx: Db,
  namespaceId: string,
  input: ChannelInput,
  config: Record<string, unknown>,
): Promise<Channel> {
  const at = now(deps)
  const taken = await tx
    .select({ id: channels.id })
    .from(channels)
    .where(and(eq(channels.namespaceId, namespaceId), eq(channels.name, input.name)))
  if (taken[0]) throw errors.conflict(`channel "${input.name}" already exists`)
  const id = newId('ch')
  const row: Channel = {
    id,
    namespaceId,
    name: input.name,
    type: input.type,
    configEnc: deps.box.sealJson(config, id),
    status: input.status ?? 'active',
    maxAttempts: input.max_attempts ?? null,
    maxAgeSeconds: input.max_age_seconds ?? null,
    rateLimit: input.rate_limit ?? null,
    lastErrorCode: null,
    lastErrorMessage: null,
    lastErrorAt: null,
    createdAt: at,
    updatedAt: at,
  }
  await tx.insert(channels).values(row)
  return row
}

export async function createChannel(deps: Deps, namespaceId: string, input: ChannelInput): Promise<Channel> {
  if (!SLUG_PATTERN.test(input.name)) throw invalidField('name', 'lowercase letters, digits and dashes, at most 63')
  const config = await validateChannelConfig(deps, input.type, input.config ?? {})
  const channel = await deps.store.tx((tx) => insertChannel(deps, tx, namespaceId, input, config))
  // The send path caches "no such channel" too; a new channel must be usable at once.
  invalidateChannelCache()
  return channel
}

/** Attaches each channel's success rate over the last hour (one indexed read of the rollups). */
async function withHealth(deps: Pick<Deps, 'store' | 'now'>, namespaceId: string, rows: Channel[]): Promise<ChannelWithHealth[]> {
  if (rows.length === 0) return rows
  const rates = await successRates(deps.store.read, namespaceId, now(deps), rows.length === 1 ? [rows[0]!.id] : undefined)
  return rows.map((c) => ({ ...c, successRate1h: rates.get(c.id) ?? null }))
}

export async function listChannels(deps: Deps, namespaceId: string): Promise<ChannelWithHealth[]> {
  const rows = await deps.store.read.select().from(channels).where(eq(channels.namespaceId, namespaceId)).orderBy(desc(channels.id))
  return withHealth(deps, namespaceId, rows)
}

/** A channel by id or name (with its health outside a transaction), or a 404. */
export async function getChannel(deps: Pick<Deps, 'store' | 'now'>, namespaceId: string, ref: string, tx?: Db): Promise<ChannelWithHealth> {
  const rows = await (tx ?? deps.store.read)
    .select()
    .from(channels)
    .where(and(eq(channels.namespaceId, namespaceId), or(eq(channels.id, ref), eq(channels.name, ref))))
  if (!rows[0]) throw errors.channelNotFound(`channel "${ref}" does not exist`)
  return tx ? rows[0] : (await withHealth(deps, namespaceId, rows))[0]!
}

export type ChannelPatch = Partial<Omit<ChannelInput, 'type' | 'name'>>

/** Updates status, limits or config; a new config replaces the old one whole. */
export async function updateChannel(deps: Deps, namespaceId: string, ref: string, patch: ChannelPatch): Promise<ChannelWithHealth> {
  const current = await getChannel(deps, namespaceId, ref)
  const config = patch.config
    ? await validateChannelConfig(deps, current.type, patch.config, { resolveHosts: true, previous: openChannelConfig(deps, current) })
    : undefined
  const updated = await deps.store.tx(async (tx) => {
    const rows = await tx
      .update(channels)
      .set({
        ...(config ? { configEnc: deps.box.sealJson(config, current.id) } : {}),
        ...(patch.status ? { status: patch.status } : {}),
        ...(patch.max_attempts !== undefined ? { maxAttempts: patch.max_attempts } : {}),
        ...(patch.max_age_seconds !== undefined ? { maxAgeSeconds: patch.max_age_seconds } : {}),
        ...(patch.rate_limit !== undefined ? { rateLimit: patch.rate_limit } : {}),
        updatedAt: now(deps),
      })
      .where(and(eq(channels.id, current.id), eq(channels.namespaceId, namespaceId)))
      .returning()
    return rows[0]!
  })
  invalidateChannelCache()
  return { ...updated, successRate1h: current.successRate1h ?? null }
}

/** Deletes a channel that has carried no messages; one with history can only be paused. */
export async function deleteChannel(deps: Deps, namespaceId: string, ref: string): Promise<void> {
  const channel = await getChannel(deps, namespaceId, ref)
  await deps.store.tx(async (tx) => {
    const used = await tx
      .select({ n: count() })
      .from(messages)
      .where(and(eq(messages.namespaceId, namespaceId), eq(messages.channelId, channel.id)))
    if (used[0]!.n > 0) throw errors.conflict(`channel "${channel.name}" has messages; pause it instead`)
    await tx.delete(terminals).where(and(eq(terminals.namespaceId, namespaceId), eq(terminals.channelId, channel.id)))
    await tx.delete(channels).where(and(eq(channels.id, channel.id), eq(channels.namespaceId, namespaceId)))
  })
  invalidateChannelCache()
}

/** Asks the connector whether the channel's credentials work (its health check, if it has one). */
export async function testChannel(deps: Deps, namespaceId: string, ref: string) {
  const channel = await getChannel(deps, namespaceId, ref)
  const connector = getConnector(channel.type)
  if (!connector) throw errors.validation(`channel type "${channel.type}" is not supported by this omnigate`)
  if (!connector.health) return { ok: true, detail: `${channel.type} has no health check; config is valid` }
  return connector.health({ config: openChannelConfig(deps, channel), fetch: deps.fetch, userAgent: USER_AGENT })
}
