/**
 * Webhook endpoints of a namespace: create (the secret is shown once), read, update, delete,
 * rotate the secret (the old one keeps signing beside the new one for a grace period).
 */
import { and, desc, eq } from 'drizzle-orm'
import { newId } from '../../lib/ids'
import { urlProblem } from '../../lib/url-guard'
import { channels, webhooks } from '../../store/schema'
import type { Db } from '../../store/store'
import { type Deps, now } from '../deps'
import { errors, invalidField } from '../errors'
import { invalidateWebhookCache } from './emit'
import { EVENT_TYPES } from './event-types'
import { generateWebhookSecret } from './signing'

export type Webhook = typeof webhooks.$inferSelect

/** How long a rotated-out secret keeps signing, so receivers can switch without a gap. */
export const ROTATION_GRACE_MS = 24 * 60 * 60 * 1000

/** What is sealed: signing secrets (newest first) and the custom headers (they may carry tokens). */
export interface WebhookSecrets {
  secrets: { secret: string; expiresAt: number | null }[]
  headers: Record<string, string>
}

export interface WebhookInput {
  url: string
  description?: string
  event_types?: string[]
  channels?: string[]
  headers?: Record<string, string>
  enabled?: boolean
  rate_limit?: number | null
}

export function openSecrets(deps: Pick<Deps, 'box'>, hook: Webhook): WebhookSecrets {
  return deps.box.openJson(hook.secretsEnc, hook.id)
}

/** Secrets that still sign at `at`. */
export function activeSecrets(sealed: WebhookSecrets, at: number): string[] {
  return sealed.secrets.filter((s) => s.expiresAt === null || s.expiresAt > at).map((s) => s.secret)
}

export function webhookView(deps: Pick<Deps, 'box'>, hook: Webhook, revealSecret?: string) {
  const sealed = openSecrets(deps, hook)
  return {
    id: hook.id,
    url: hook.url,
    description: hook.description,
    event_types: hook.eventTypes,
    channels: hook.channelIds,
    headers: Object.fromEntries(Object.keys(sealed.headers).map((k) => [k, '••••'])),
    enabled: hook.enabled,
    disabled_reason: hook.disabledReason,
    rate_limit: hook.rateLimit,
    failing_since: hook.failingSince ? new Date(hook.failingSince).toISOString() : null,
    ...(revealSecret ? { secret: revealSecret } : {}),
    created_at: new Date(hook.createdAt).toISOString(),
    updated_at: new Date(hook.updatedAt).toISOString(),
  }
}

async function checkInput(deps: Deps, namespaceId: string, input: Partial<WebhookInput>) {
  if (input.url !== undefined) {
    const problem = await urlProblem(input.url, { allowPrivateNetwork: deps.limits.allowPrivateNetwork })
    if (problem) throw invalidField('url', problem)
  }
  for (const [i, type] of (input.event_types ?? []).entries()) {
    if (type !== '*' && !(EVENT_TYPES as readonly string[]).includes(type)) {
      throw invalidField(`event_types.${i}`, `unknown event type "${type}" (see GET /v1/event-types)`)
    }
  }
  const ids: string[] = []
  if (!input.channels?.length) return ids
  const rows = await deps.store.read
    .select({ id: channels.id, name: channels.name })
    .from(channels)
    .where(eq(channels.namespaceId, namespaceId))
  for (const [i, ref] of input.channels.entries()) {
    const channel = rows.find((c) => c.id === ref || c.name === ref)
    if (!channel) throw invalidField(`channels.${i}`, `no channel "${ref}" in this namespace`)
    ids.push(channel.id)
  }
  return ids
}

export async function createWebhook(deps: Deps, namespaceId: string, input: WebhookInput) {
  const channelIds = await checkInput(deps, namespaceId, input)
  const at = now(deps)
  const id = newId('wh')
  const secret = generateWebhookSecret()
  const row: Webhook = {
    id,
    namespaceId,
    url: input.url,
    description: input.description ?? '',
    eventTypes: input.event_types?.length ? input.event_types : ['*'],
    channelIds,
    secretsEnc: deps.box.sealJson({ secrets: [{ secret, expiresAt: null }], headers: input.headers ?? {} } satisfies WebhookSecrets, id),
    enabled: input.enabled ?? true,
    disabledReason: null,
    rateLimit: input.rate_limit ?? null,
    failingSince: null,
    createdAt: at,
    updatedAt: at,
  }
  await deps.store.tx(async (tx) => tx.insert(webhooks).values(row))
  invalidateWebhookCache()
  return { webhook: row, secret }
}

export async function listWebhooks(deps: Deps, namespaceId: string): Promise<Webhook[]> {
  return deps.store.read.select().from(webhooks).where(eq(webhooks.namespaceId, namespaceId)).orderBy(desc(webhooks.id))
}

export async function getWebhook(deps: Pick<Deps, 'store'>, namespaceId: string, id: string, db?: Db): Promise<Webhook> {
  const rows = await (db ?? deps.store.read)
    .select()
    .from(webhooks)
    .where(and(eq(webhooks.namespaceId, namespaceId), eq(webhooks.id, id)))
  if (!rows[0]) throw errors.webhookNotFound(`webhook "${id}" does not exist`)
  return rows[0]
}

export async function updateWebhook(deps: Deps, namespaceId: string, id: string, patch: Partial<WebhookInput>) {
  const channelIds = await checkInput(deps, namespaceId, patch)
  const at = now(deps)
  // Read and write in one transaction: a concurrent rotation's new secret is never lost.
  const row = await deps.store.tx(async (tx) => {
    const current = await getWebhook(deps, namespaceId, id, tx)
    const sealed = openSecrets(deps, current)
    const [updated] = await tx
      .update(webhooks)
      .set({
        ...(patch.url !== undefined ? { url: patch.url } : {}),
        ...(patch.description !== undefined ? { description: patch.description } : {}),
        ...(patch.event_types !== undefined ? { eventTypes: patch.event_types.length ? patch.event_types : ['*'] } : {}),
        ...(patch.channels !== undefined ? { channelIds } : {}),
        ...(patch.headers !== undefined ? { secretsEnc: deps.box.sealJson({ ...sealed, headers: patch.headers }, id) } : {}),
        ...(patch.rate_limit !== undefined ? { rateLimit: patch.rate_limit } : {}),
        // Re-enabling starts the failure clock afresh.
        ...(patch.enabled !== undefined ? { enabled: patch.enabled, disabledReason: patch.enabled ? null : 'disabled by a user', failingSince: null } : {}),
        updatedAt: at,
      })
      .where(and(eq(webhooks.namespaceId, namespaceId), eq(webhooks.id, current.id)))
      .returning()
    return updated!
  })
  invalidateWebhookCache()
  return row
}

export async function deleteWebhook(deps: Deps, namespaceId: string, id: string) {
  await getWebhook(deps, namespaceId, id)
  await deps.store.tx((tx) => tx.delete(webhooks).where(and(eq(webhooks.namespaceId, namespaceId), eq(webhooks.id, id))))
  invalidateWebhookCache()
}

/** A new secret; the previous ones keep signing for `graceMs` (0 = retire them at once). */
export async function rotateWebhookSecret(deps: Deps, namespaceId: string, id: string, graceMs = ROTATION_GRACE_MS) {
  const at = now(deps)
  const rotated = await deps.store.tx(async (tx) => {
    const hook = await getWebhook(deps, namespaceId, id, tx)
    const sealed = openSecrets(deps, hook)
    const secret = generateWebhookSecret()
    const kept = sealed.secrets
      .filter((s) => s.expiresAt === null || s.expiresAt > at)
      .map((s) => ({ secret: s.secret, expiresAt: Math.min(s.expiresAt ?? Infinity, at + graceMs) }))
      .filter((s) => s.expiresAt > at)
    const [row] = await tx
      .update(webhooks)
      .set({ secretsEnc: deps.box.sealJson({ ...sealed, secrets: [{ secret, expiresAt: null }, ...kept] }, id), updatedAt: at })
      .where(eq(webhooks.id, hook.id))
      .returning()
    return { webhook: row!, secret }
  })
  // The next delivery signs with the new secret too: the deliverer's endpoint cache goes.
  invalidateWebhookCache()
  return rotated
}
