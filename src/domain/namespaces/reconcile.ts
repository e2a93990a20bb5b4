/**
 * Reconciles the `[[namespaces]]` blocks of the config into the store at start-up, in one
 * transaction and idempotently: what exists is left alone (a channel's config is updated when it
 * changed), what is missing is created. Nothing declared is ever deleted.
 */
import { and, eq } from 'drizzle-orm'
import type { NamespaceConfig } from '../../config'
import { applications, channels, namespaces, terminals } from '../../store/schema'
import { AppError } from '../errors'
import { insertChannel, openChannelConfig, validateChannelConfig } from '../channels'
import { invalidateChannelCache } from '../channels/resolve'
import { insertTerminal } from '../channels/terminals'
import { type Deps, now } from '../deps'
import { findApiKeyBySecret, insertApiKey, setApiKeyScopes } from '../identity/api-keys'
import { ALL_SCOPES } from '../identity/scopes'
import { insertApplication } from '../identity/applications'
import { invalidateLimitsCache, quotaSettings } from '../identity/quotas'
import { retentionOverrides, withRetention } from '../retention'
import { reconcileWebhooks } from '../webhooks/reconcile'
import { insertNamespace } from './index'

export interface ReconcileReport {
  created: string[]
  updated: string[]
}

/** A reconcile failure names the config key path, like `config check` does. */
export class ReconcileError extends Error {}

function atPath(path: string, error: unknown): never {
  if (error instanceof AppError) {
    const detail = error.errors.length > 0 ? error.errors.map((e) => `${path}.${e.field}: ${e.message}`).join('\n') : `${path}: ${error.detail}`
    throw new ReconcileError(detail)
  }
  throw error
}

export async function reconcileNamespaces(deps: Deps, declared: readonly NamespaceConfig[]): Promise<ReconcileReport> {
  // Connector configs are validated before the transaction opens (generated parts, like VAPID
  // keys, are kept from the stored config so a restart does not regenerate them).
  const configs = new Map<string, Record<string, unknown>>()
  for (const [i, ns] of declared.entries()) {
    const existingNs = (await deps.store.read.select({ id: namespaces.id }).from(namespaces).where(eq(namespaces.slug, ns.slug)))[0]
    for (const [j, ch] of ns.channels.entries()) {
      const path = `namespaces[${i}].channels[${j}]`
      const stored = existingNs
        ? (await deps.store.read.select().from(channels).where(and(eq(channels.namespaceId, existingNs.id), eq(channels.name, ch.name))))[0]
        : undefined
      const previous = stored && stored.type === ch.type ? openChannelConfig(deps, stored) : undefined
      try {
        configs.set(`${i}.${j}`, await validateChannelConfig(deps, ch.type, { ...ch.config }, { resolveHosts: false, previous }))
      } catch (error) {
        atPath(path, error)
      }
    }
  }
  const report: ReconcileReport = { created: [], updated: [] }
  const at = now(deps)
  await deps.store.tx(async (tx) => {
    for (const [i, decl] of declared.entries()) {
      let ns = (await tx.select().from(namespaces).where(eq(namespaces.slug, decl.slug)))[0]
      if (!ns) {
        ns = await insertNamespace(tx, { slug: decl.slug, name: decl.name }, at)
        report.created.push(`namespace ${decl.slug}`)
      }
      if (decl.quotas && JSON.stringify(quotaSettings(ns.settings)) !== JSON.stringify(quotaSettings({ quotas: decl.quotas }))) {
        // Declared quotas replace the stored ones whole; without a declaration they are left alone.
        const settings = { ...ns.settings, quotas: quotaSettings({ quotas: decl.quotas }) }
        await tx.update(namespaces).set({ settings, updatedAt: at }).where(eq(namespaces.id, ns.id))
        ns = { ...ns, settings }
        report.updated.push(`quotas ${decl.slug}`)
      }
      if (decl.retention && JSON.stringify(retentionOverrides(ns.settings)) !== JSON.stringify(retentionOverrides({ retention: decl.retention }))) {
        // Like quotas: the declaration replaces the stored overrides whole; without one they are left alone.
        const settings = withRetention(ns.settings, decl.retention)
        await tx.update(namespaces).set({ settings, updatedAt: at }).where(eq(namespaces.id, ns.id))
        ns = { ...ns, settings }
        report.updated.push(`retention ${decl.slug}`)
      }
      for (const [j, ch] of decl.channels.entries()) {
        const path = `namespaces[${i}].channels[${j}]`
        const config = configs.get(`${i}.${j}`)!
        const input = { name: ch.name, type: ch.type, max_attempts: ch.max_attempts, max_age_seconds: ch.max_age_seconds }
        let channel = (await tx.select().from(channels).where(and(eq(channels.namespaceId, ns.id), eq(channels.name, ch.name))))[0]
        if (!channel) {
          channel = await insertChannel(deps, tx, ns.id, input, config).catch((e) => atPath(path, e))
          report.created.push(`channel ${decl.slug}/${ch.name}`)
        } else if (channel.type !== ch.type) {
          throw new ReconcileError(`${path}.type: channel "${ch.name}" exists with type "${channel.type}"; a channel's type cannot change`)
        } else if (
          JSON.stringify(openChannelConfig(deps, channel)) !== JSON.stringify(config) ||
          channel.maxAttempts !== (ch.max_attempts ?? null) ||
          channel.maxAgeSeconds !== (ch.max_age_seconds ?? null)
        ) {
          await tx
            .update(channels)
            .set({
              configEnc: deps.box.sealJson(config, channel.id),
              maxAttempts: ch.max_attempts ?? null,
              maxAgeSeconds: ch.max_age_seconds ?? null,
              updatedAt: at,
            })
            .where(eq(channels.id, channel.id))
          report.updated.push(`channel ${decl.slug}/${ch.name}`)
        }
        const existing = new Set(
          (await tx.select({ address: terminals.address }).from(terminals).where(eq(terminals.channelId, channel.id))).map((t) => t.address),
        )
        for (const [k, t] of ch.terminals.entries()) {
          if (existing.has(t.address)) continue
          await insertTerminal(tx, ns.id, channel.id, { address: t.address, name: t.name, default: t.default }, at).catch((e) =>
            atPath(`${path}.terminals[${k}]`, e),
          )
          report.created.push(`terminal ${decl.slug}/${ch.name}/${t.address}`)
        }
      }
      try {
        const changed = await reconcileWebhooks(deps, tx, ns.id, decl.webhooks, `namespaces[${i}]`, at)
        report.created.push(...changed.filter((c) => c.startsWith('created')))
        report.updated.push(...changed.filter((c) => c.startsWith('updated')))
      } catch (error) {
        if (error instanceof Error && error.message.startsWith('namespaces[')) throw new ReconcileError(error.message)
        throw error
      }
      for (const [j, appDecl] of decl.applications.entries()) {
        const path = `namespaces[${i}].applications[${j}]`
        let app = (await tx.select().from(applications).where(and(eq(applications.namespaceId, ns.id), eq(applications.name, appDecl.name))))[0]
        if (!app) {
          app = await insertApplication(tx, ns.id, { name: appDecl.name, description: appDecl.description }, at)
          report.created.push(`application ${decl.slug}/${appDecl.name}`)
        }
        for (const [k, key] of appDecl.api_keys.entries()) {
          const scopes = key.scopes ?? [...ALL_SCOPES]
          const existing = await findApiKeyBySecret(tx, key.key)
          if (existing && (existing.namespaceId !== ns.id || existing.applicationId !== app.id)) {
            throw new ReconcileError(`${path}.api_keys[${k}].key: this key already belongs to another application or namespace`)
          }
          if (existing) {
            if ([...existing.scopes].sort().join() !== [...scopes].sort().join()) {
              await setApiKeyScopes(tx, existing, scopes).catch((e) => atPath(`${path}.api_keys[${k}]`, e))
              report.updated.push(`api key ${decl.slug}/${appDecl.name}/${key.name ?? k}`)
            }
            continue
          }
          await insertApiKey(tx, ns.id, { applicationId: app.id, name: key.name, scopes: key.scopes, key: key.key }, at).catch((e) =>
            atPath(`${path}.api_keys[${k}]`, e),
          )
          report.created.push(`api key ${decl.slug}/${appDecl.name}/${key.name ?? k}`)
        }
      }
    }
  })
  invalidateChannelCache()
  invalidateLimitsCache()
  return report
}
