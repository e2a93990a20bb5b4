/**
 * "Revocation is immediate in the process that revoked" (docs/identity/applications.md), also
 * for a request authenticating with the credential while it is being revoked. (The caches were
 * cleared inside the transaction, before COMMIT: such a request read the credential as live and
 * put it back in the cache, so it kept working for up to a second after the 204.)
 *
 * The request is fired k microtasks after the revocation starts, for every k in a range: which k
 * hits the window depends on the code between the clear and the COMMIT, not on timing.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { authenticateApiKey, createApiKey, revokeApiKey } from '../../src/domain/identity/api-keys'
import { authenticateClientToken, createClient, issueClientToken, revokeClient } from '../../src/domain/identity/clients'
import { startTestGateway, type TestGateway } from '../helpers/gateway'

let gw: TestGateway
let acme: Awaited<ReturnType<TestGateway['tenant']>>
beforeAll(async () => {
  gw = await startTestGateway()
  acme = await gw.tenant('acme')
})
afterAll(() => gw.close())

const ticks = async (n: number) => {
  for (let i = 0; i < n; i++) await Promise.resolve()
}

test('an API key used while it is being revoked is refused once the revocation has returned', async () => {
  const stale: number[] = []
  for (let k = 0; k < 40; k++) {
    const { key, secret } = await createApiKey(gw.deps, acme.namespaceId, { applicationId: acme.applicationId })
    expect(await authenticateApiKey(gw.deps, secret)).not.toBeNull()
    const revoking = revokeApiKey(gw.deps, acme.namespaceId, key.id)
    await ticks(k)
    const inFlight = authenticateApiKey(gw.deps, secret) // a request with the key, mid-revocation
    await revoking // DELETE …/keys/{id} answers 204 here
    if (await authenticateApiKey(gw.deps, secret)) stale.push(k)
    await inFlight
  }
  expect(stale).toEqual([])
})

test('an OAuth client whose token is requested while it is being revoked: its tokens are refused once the revocation has returned', async () => {
  const stale: number[] = []
  for (let k = 0; k < 40; k++) {
    const { client, secret } = await createClient(gw.deps, acme.namespaceId, { applicationId: acme.applicationId })
    const { access_token: token } = await issueClientToken(gw.deps, { grantType: 'client_credentials', clientId: client.id, clientSecret: secret })
    expect(await authenticateClientToken(gw.deps, token)).not.toBeNull()
    const revoking = revokeClient(gw.deps, acme.namespaceId, client.id)
    await ticks(k)
    // Another instance of the service asks for a token at that moment.
    const inFlight = issueClientToken(gw.deps, { grantType: 'client_credentials', clientId: client.id, clientSecret: secret }).catch(() => null)
    await revoking // DELETE …/clients/{id} answers 204 here
    if (await authenticateClientToken(gw.deps, token)) stale.push(k)
    await inFlight
  }
  expect(stale).toEqual([])
})
