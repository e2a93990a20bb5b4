/**
 * Every log line written while serving a request carries its request id, including lines from
 * work the request started that finishes after the answer; background work a request merely
 * woke (the dispatcher) does not.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createInstanceAdmin, setPasswordHashCost } from '../../src/domain/identity/users'
import { createLogger } from '../../src/lib/log'
import { runInRequest } from '../../src/lib/request-context'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

// argon2id at its real cost would dominate the test; the cost is not what is tested here.
setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })

const lines: Record<string, unknown>[] = []
const log = createLogger({ level: 'debug', format: 'json' }, (line) => lines.push(JSON.parse(line)))
let gw: TestGateway
let acme: Awaited<ReturnType<TestGateway['tenant']>>

beforeAll(async () => {
  // Port 1 on loopback refuses connections: the instance's mail fails, and says so in the log.
  gw = await startTestGateway({ mail: { smtp_url: 'smtp://127.0.0.1:1', from: 'omnigate <noreply@example.test>' } }, { log })
  acme = await gw.tenant('acme')
  await gw.channel(acme.namespaceId, 'sandbox')
  await createInstanceAdmin(gw.deps, { email: 'ops@example.test', password: 'correct horse battery staple' })
})
afterAll(() => gw.close())

describe('request id on log lines', () => {
  test('the logger adds the id of the request it runs in, and only then', () => {
    const captured: string[] = []
    const text = createLogger({ level: 'info', format: 'text' }, (line) => captured.push(line))
    runInRequest('req-text-1', () => text.info('inside'))
    text.info('outside')
    expect(captured[0]).toEndWith('inside request_id=req-text-1')
    expect(captured[1]).toEndWith('outside')
  })

  test("the access line and a line from work the request started (mail failing after the 202) carry the request's id", async () => {
    const res = await gw.call('POST', '/v1/auth/password-reset', null, { email: 'ops@example.test' }, { 'x-request-id': 'req-reset-1' })
    expect(res.status).toBe(202)
    expect(res.headers.get('x-request-id')).toBe('req-reset-1')
    const mailLine = await eventually(async () => lines.find((l) => l.msg === 'instance mail not sent'))
    expect(mailLine.request_id).toBe('req-reset-1')
    const access = lines.find((l) => l.msg === 'request' && l.route === '/v1/auth/password-reset')
    expect(access?.request_id).toBe('req-reset-1')
  })

  test('a generated id when the client sends none: the response header and the log agree', async () => {
    const res = await gw.call('GET', '/v1/namespaces/acme/messages', acme.key)
    expect(res.status).toBe(200)
    const id = res.headers.get('x-request-id')
    expect(id).toBeTruthy()
    const access = lines.findLast((l) => l.msg === 'request' && l.route === '/v1/namespaces/:ns/messages')
    expect(access?.request_id).toBe(id!)
  })

  test('the dispatcher woken by a request logs without that request id', async () => {
    await gw.startEngine()
    const res = await gw.call(
      'POST',
      '/v1/namespaces/acme/messages',
      acme.key,
      { channel: 'sandbox', to: 'alice@example.com', content: { text: 'hi' }, options: { sandbox: { outcome: 'failed' } } },
      { 'x-request-id': 'req-send-1' },
    )
    expect(res.status).toBe(202)
    const { id } = (await res.json()) as { id: string }
    const failed = await eventually(async () => lines.find((l) => l.msg === 'message failed' && l.message_id === id))
    expect(failed.request_id).toBeUndefined()
    expect(lines.find((l) => l.msg === 'request' && l.request_id === 'req-send-1')?.status).toBe(202)
  })
})
