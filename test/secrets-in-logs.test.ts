/**
 * Secrets never reach the log: a whole gateway runs at debug level through flows that handle
 * every kind of secret (channel credentials, webhook secrets, API keys, client secrets, access
 * tokens, passwords), including failures, and the captured log is searched for each of them.
 */
import { afterAll, expect, test } from 'bun:test'
import { createInstanceAdmin, setPasswordHashCost } from '../src/domain/identity/users'
import { createLogger } from '../src/lib/log'
import { startHttpReceiver } from './fakes/http-receiver'
import { eventually, startTestGateway } from './helpers/gateway'

const lines: string[] = []
const log = createLogger({ level: 'debug', format: 'json' }, (line) => lines.push(line))
setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })
const gw = await startTestGateway({}, { log })
const receiver = startHttpReceiver({ respond: (_r, n) => (n === 1 ? new Response('down', { status: 500 }) : Response.json({ id: 'r1' })) })
afterAll(async () => {
  await receiver.stop()
  await gw.close()
})

test('no secret handled during a run appears in the log', async () => {
  const secrets: string[] = []
  const acme = await gw.tenant('acme')
  secrets.push(acme.key)
  const call = (method: string, path: string, body?: unknown, key = acme.key) => gw.call(method, `/v1/namespaces/acme${path}`, key, body)

  const headerSecret = 'Bearer header-secret-value-123456'
  const inboundSecret = 'inbound-secret-value-1234567890'
  secrets.push(headerSecret, inboundSecret)
  const channel = (await (await call('POST', '/channels', { name: 'hook', type: 'http', config: { url: receiver.url, headers: { authorization: headerSecret }, inbound_secret: inboundSecret } })).json()) as { id: string }

  const hook = (await (await call('POST', '/webhooks', { url: 'http://127.0.0.1:9/hook', headers: { 'x-token': 'webhook-header-secret-42' } })).json()) as { secret: string }
  secrets.push(hook.secret, 'webhook-header-secret-42')

  const app = (await (await call('POST', '/apps', { name: 'billing' })).json()) as { id: string }
  const key = (await (await call('POST', `/apps/${app.id}/keys`, { scopes: ['messages:send'] })).json()) as { key: string }
  const client = (await (await call('POST', `/apps/${app.id}/clients`, { scopes: ['messages:send'] })).json()) as { client_id: string; client_secret: string }
  secrets.push(key.key, client.client_secret)
  const token = (await (
    await gw.app.request('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${btoa(`${client.client_id}:${client.client_secret}`)}` },
      body: 'grant_type=client_credentials',
    })
  ).json()) as { access_token: string }
  secrets.push(token.access_token)
  // A wrong client secret: refused, and the attempt logged (if at all) without it.
  await gw.app.request('/oauth/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=client_credentials&client_id=${client.client_id}&client_secret=wrong-secret-abcdef` })
  secrets.push('wrong-secret-abcdef')

  const password = 'correct horse battery staple'
  await createInstanceAdmin(gw.deps, { email: 'ops@example.com', password })
  const login = await gw.app.request('/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'ops@example.com', password }) })
  const session = (await login.json()) as { access_token: string }
  secrets.push(password, session.access_token, /og_session=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')![1]!)
  await gw.app.request('/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'ops@example.com', password: 'a wrong password here' }) })
  secrets.push('a wrong password here')

  // A send that fails once (logged retry) then succeeds with the secret header on the wire.
  await gw.startEngine()
  const sent = (await (await call('POST', '/messages', { channel: 'hook', to: 'ops', content: { text: 'hi' } })).json()) as { id: string }
  await eventually(async () => ((await (await call('GET', `/messages/${sent.id}`)).json()) as { status: string }).status === 'sent')
  expect(receiver.received.at(-1)!.headers.authorization).toBe(headerSecret)
  // A callback with a bad signature.
  await gw.app.request(`/inbound/${channel.id}`, { method: 'POST', headers: { authorization: 'Bearer not-the-inbound-secret-0000' }, body: '{}' })

  // The run really logged: every request, the failed attempt, the refused callback.
  expect(lines.filter((l) => l.includes('"msg":"request"')).length).toBeGreaterThan(10)
  const text = lines.join('\n')
  for (const secret of secrets) expect({ secret, found: text.includes(secret) }).toEqual({ secret, found: false })
})
