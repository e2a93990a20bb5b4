/**
 * `[[namespaces.webhooks]]` from the config file: created when missing (matched by URL),
 * updated when the declaration changed. A declared `secret` becomes the signing secret (the
 * previous one keeps signing for the rotation grace period); without one a secret is generated
 * once and can be read by rotating it.
 */
import { and, eq } from 'drizzle-orm'
import type { NamespaceConfig } from '../../config'
import { newId } from '../../lib/ids'
import { checkUrlSyntax, maskUrl, UrlRejectedError } from '../../lib/url-guard'
import { channels, webhooks } from '../../store/schema'
import type { Db } from '../../store/store'
import type { Deps } from '../deps'
import { invalidateWebhookCache } from './emit'
import { openSecrets, ROTATION_GRACE_MS, type WebhookSecrets } from './endpoints'
import { EVENT_TYPES } from './event-types'
import { generateWebhookSecret } from './signing'

type Declared = NamespaceConfig['webhooks'][number]

/** Returns a description of each change; throws an Error naming the config path on a bad entry. */
export async function reconcileWebhooks(deps: Deps, tx: Db, namespaceId: string, declared: Declared[], path: string, at: number): Promise<string[]> {
  const changes: string[] = []
  const owned = await tx.select({ id: channels.id, name: channels.name }).from(channels).where(eq(channels.namespaceId, namespaceId))
  for (const [k, decl] of declared.entries()) {
    const where = `${path}.webhooks[${k}]`
    try {
      checkUrlSyntax(decl.url)
    } catch (error) {
      if (error instanceof UrlRejectedError) throw new Error(`${where}.url: ${error.message}`)
      throw error
    }
    const eventTypes = decl.event_types?.length ? decl.event_types : ['*']
    eventTypes.forEach((t, i) => {
      if (t !== '*' && !(EVENT_TYPES as readonly string[]).includes(t)) throw new Error(`${where}.event_types[${i}]: unknown event type "${t}"`)
    })
    const channelIds = (decl.channels ?? []).map((name, i) => {
      const channel = owned.find((c) => c.name === name)
      if (!channel) throw new Error(`${where}.channels[${i}]: no channel "${name}" in this namespace`)
      return channel.id
    })
    const [existing] = await tx.select().from(webhooks).where(and(eq(webhooks.namespaceId, namespaceId), eq(webhooks.url, decl.url)))
    if (!existing) {
      const id = newId('wh')
      const sealed: WebhookSecrets = { secrets: [{ secret: decl.secret ?? generateWebhookSecret(), expiresAt: null }], headers: decl.headers ?? {} }
      await tx.insert(webhooks).values({
        id,
        namespaceId,
        url: decl.url,
        description: decl.description ?? '',
        eventTypes,
        channelIds,
        secretsEnc: deps.box.sealJson(sealed, id),
        createdAt: at,
        updatedAt: at,
      })
      changes.push(`created webhook ${maskUrl(decl.url)}`)
      continue
    }
    const sealed = openSecrets(deps, existing)
    const secrets =
      decl.secret && sealed.secrets[0]?.secret !== decl.secret
        ? [
            { secret: decl.secret, expiresAt: null },
            ...sealed.secrets.map((s) => ({ secret: s.secret, expiresAt: Math.min(s.expiresAt ?? Infinity, at + ROTATION_GRACE_MS) })),
          ]
        : sealed.secrets
    const next = { secrets, headers: decl.headers ?? {} }
    const same =
      JSON.stringify(next) === JSON.stringify(sealed) &&
      existing.description === (decl.description ?? '') &&
      JSON.stringify(existing.eventTypes) === JSON.stringify(eventTypes) &&
      JSON.stringify(existing.channelIds) === JSON.stringify(channelIds)
    if (same) continue
    await tx
      .update(webhooks)
      .set({ description: decl.description ?? '', eventTypes, channelIds, secretsEnc: deps.box.sealJson(next, existing.id), updatedAt: at })
      .where(eq(webhooks.id, existing.id))
    changes.push(`updated webhook ${maskUrl(decl.url)}`)
  }
  if (changes.length > 0) invalidateWebhookCache()
  return changes
}
