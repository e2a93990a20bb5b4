/**
 * Property-based tenancy checks (fast-check): whatever id, name or namespace a client puts in a
 * path, the answer is a problem+json 4xx — never a 500, never another tenant's data.
 */
import { afterAll, expect, test } from 'bun:test'
import fc from 'fast-check'
import { startTestGateway } from '../helpers/gateway'

const gw = await startTestGateway()
afterAll(() => gw.close())
const acme = await gw.tenant('acme')
const other = await gw.tenant('other')
await gw.channel(acme.namespaceId, 'sandbox')
const secret = (await (await gw.call('POST', '/v1/namespaces/acme/messages', acme.key, { channel: 'sandbox', to: 'alice@example.com', content: { text: 'private' } })).json()) as { id: string }

const doc = (await (await gw.app.request('/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> }
const templates = Object.entries(doc.paths)
  .filter(([t]) => t.startsWith('/v1/namespaces/{ns}/'))
  .flatMap(([t, ops]) => Object.keys(ops).map((method) => ({ method: method.toUpperCase(), template: t })))

// Printable text including the characters that break naive routers and SQL: / % ' " ? # and unicode.
const segment = fc.string({ minLength: 1, maxLength: 40, unit: fc.constantFrom(...Array.from('abcXYZ019_-./%\'"?#&=+ é中🙂')) })

test('random path parameters on every route: a 4xx problem, never a 500, never another tenant\'s data', async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...templates), segment, segment, async (op, a, b) => {
      const path = op.template.replace('{ns}', 'acme').replace(/\{[a-z_]+\}/, encodeURIComponent(a)).replace(/\{[a-z_]+\}/g, encodeURIComponent(b))
      const res = await gw.call(op.method, path, other.key, op.method === 'GET' || op.method === 'DELETE' ? undefined : {})
      const text = await res.text()
      expect(res.status).toBeGreaterThanOrEqual(400)
      expect(res.status).toBeLessThan(500)
      expect(res.headers.get('content-type')).toStartWith('application/problem+json')
      expect(text).not.toContain(secret.id)
      expect(text).not.toContain(acme.namespaceId)
    }),
    { numRuns: 300 },
  )
})

test('random namespace names: the caller\'s own key gets 404 namespace_not_found unless it names its own', async () => {
  await fc.assert(
    fc.asyncProperty(segment, async (ns) => {
      fc.pre(ns !== 'acme' && ns !== acme.namespaceId)
      const res = await gw.call('GET', `/v1/namespaces/${encodeURIComponent(ns)}/messages`, acme.key)
      expect([404]).toContain(res.status)
    }),
    { numRuns: 200 },
  )
})

test('random ids on every route of the own namespace: never a 500', async () => {
  const withParams = templates.filter((op) => /\{(?!ns\})[a-z_]+\}/.test(op.template))
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...withParams), segment, segment, async (op, a, b) => {
      const path = op.template.replace('{ns}', 'acme').replace(/\{[a-z_]+\}/, encodeURIComponent(a)).replace(/\{[a-z_]+\}/g, encodeURIComponent(b))
      const res = await gw.call(op.method, path, acme.key, op.method === 'GET' || op.method === 'DELETE' ? undefined : {})
      expect(res.status).toBeLessThan(500)
      if (res.status >= 400) expect(res.headers.get('content-type')).toStartWith('application/problem+json')
    }),
    { numRuns: 300 },
  )
})

test('random ids in the own namespace: 404 or 422, never a 500', async () => {
  await fc.assert(
    fc.asyncProperty(segment, async (id) => {
      for (const path of [`/v1/namespaces/acme/messages/${encodeURIComponent(id)}`, `/v1/namespaces/acme/channels/${encodeURIComponent(id)}`]) {
        const res = await gw.call('GET', path, acme.key)
        if (id === secret.id || id === 'sandbox') continue
        expect([404, 422]).toContain(res.status)
      }
    }),
    { numRuns: 200 },
  )
})
