/** "Test credentials" in the portal is audited, as the same action through the API is (it was not). */
import { afterAll, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { setPasswordHashCost } from '../../src/domain/identity/users'
import { auditLog } from '../../src/store/schema'
import { startTestGateway } from '../helpers/gateway'
import { makeUser, signedInClient } from '../portal/portal-client'

setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })
const gw = await startTestGateway({})
afterAll(() => gw.close())
const acme = await gw.tenant('acme')
const channelId = await gw.channel(acme.namespaceId, 'alerts')
await makeUser(gw.deps, 'ops@example.com')

test('"Test credentials" in the portal is recorded in the audit log, as POST …/channels/{channel}/test is through the API', async () => {
  const admin = await signedInClient(gw, 'ops@example.com', `/portal/ns/acme/channels/${channelId}`)
  const res = await admin.post(`/portal/ns/acme/channels/${channelId}/test`, {})
  expect(res.status).toBeLessThan(500)
  const rows = await gw.deps.store.read.select().from(auditLog).where(eq(auditLog.namespaceId, acme.namespaceId))
  expect(rows.map((r) => r.action)).toContain('POST /portal/ns/{ns}/channels/{channel}/test')
})
