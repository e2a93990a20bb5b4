/**
 * Inbound e-mail addresses compare case-insensitively across all of Unicode, both when a tenant
 * claims one and when mail arrives. (They were compared with SQLite's lower(), which folds ASCII
 * only, against JavaScript's toLowerCase(): a second tenant could claim `équipe@…` beside
 * another's `ÉQUIPE@…` and from then on got the mail sent to the first tenant's address.)
 */
import { afterEach, expect, test } from 'bun:test'
import nodemailer from 'nodemailer'
import { closeSmtpTransports } from '../src/connectors/smtp/transports'
import { startSmtpSink } from './fakes/smtp-server'
import { eventually, startTestGateway, type TestGateway } from './helpers/gateway'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

test('a tenant cannot claim another tenant\'s non-ASCII mailbox in lower case and read its mail', async () => {
  const sink = await startSmtpSink()
  cleanups.push(() => sink.stop(), () => closeSmtpTransports())
  const gw: TestGateway = await startTestGateway({ smtp: { enabled: true, listen: '127.0.0.1:0' } })
  cleanups.push(() => gw.close())
  const acme = await gw.tenant('acme')
  const globex = await gw.tenant('globex')
  for (const [slug, key] of [['acme', acme.key], ['globex', globex.key]] as const) {
    const res = await gw.call('POST', `/v1/namespaces/${slug}/channels`, key, { name: 'mail', type: 'smtp', config: { host: '127.0.0.1', port: sink.port, starttls: 'never' } })
    expect(res.status).toBe(201)
  }
  expect((await gw.call('POST', '/v1/namespaces/acme/channels/mail/terminals', acme.key, { address: 'ÉQUIPE@acme.test' })).status).toBe(201)
  // The same mailbox, in lower case, by another tenant: must be refused like SHOP@… vs shop@… is.
  const claim = await gw.call('POST', '/v1/namespaces/globex/channels/mail/terminals', globex.key, { address: 'équipe@acme.test' })

  const engine = await gw.startEngine()
  const [host, port] = engine.smtp!.address.split(':')
  const transport = nodemailer.createTransport({ host, port: Number(port), secure: false, ignoreTLS: true })
  cleanups.push(() => transport.close())
  // Mail to acme's address exactly as acme registered it.
  await transport.sendMail({ from: 'bob@example.net', to: 'ÉQUIPE@acme.test', subject: 'for acme', text: 'private to acme' })

  const inbound = async (slug: string, key: string) =>
    ((await (await gw.call('GET', `/v1/namespaces/${slug}/messages?direction=inbound`, key)).json()) as { data: { content: { text?: string } }[] }).data
  const [acmeGot, globexGot] = await eventually(async () => {
    const [a, g] = [await inbound('acme', acme.key), await inbound('globex', globex.key)]
    return a.length + g.length > 0 && ([a, g] as const)
  })
  expect({ claim: claim.status, acme: acmeGot.length, globex: globexGot.length }).toEqual({ claim: 409, acme: 1, globex: 0 })
})
