/**
 * Demo mode (started with no config file): the first start creates namespace `demo` with a
 * `sandbox` channel, an application and one API key, which the caller prints once.
 */
import { eq } from 'drizzle-orm'
import { namespaces } from '../../store/schema'
import { insertChannel } from '../channels'
import { type Deps, now } from '../deps'
import { insertApiKey } from '../identity/api-keys'
import { insertApplication } from '../identity/applications'
import { insertNamespace } from './index'

export const DEMO_NAMESPACE = 'demo'

/** Returns the new API key on the first start, null when the demo namespace already exists. */
export async function ensureDemoNamespace(deps: Deps): Promise<string | null> {
  return deps.store.tx(async (tx) => {
    const existing = await tx.select({ id: namespaces.id }).from(namespaces).where(eq(namespaces.slug, DEMO_NAMESPACE))
    if (existing[0]) return null
    const at = now(deps)
    const ns = await insertNamespace(tx, { slug: DEMO_NAMESPACE, name: 'Demo' }, at)
    await insertChannel(deps, tx, ns.id, { name: 'sandbox', type: 'sandbox' }, {})
    const app = await insertApplication(tx, ns.id, { name: 'demo', description: 'Created on first start' }, at)
    const { secret } = await insertApiKey(tx, ns.id, { applicationId: app.id, name: 'demo' }, at)
    return secret
  })
}
