/**
 * The smtp connector through the public API against a real SMTP server on loopback
 * (test/fakes/smtp-server.ts): the message on the wire read back with mailparser, AUTH, DKIM,
 * STARTTLS, RFC 5321 replies as retries or failures, one-click unsubscribe (RFC 8058), health.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { generateKeyPairSync } from 'node:crypto'
import { simpleParser } from 'mailparser'
import { closeSmtpTransports } from '../../src/connectors/smtp/transports'
import { type SmtpSink, type SmtpSinkOptions, selfSignedCertificate, startSmtpSink } from '../fakes/smtp-server'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

const AUTH = { username: 'postmaster', password: 'hunter2-but-longer' }
const FROM = 'shop@acme.test'
const TO = 'bob@example.net'

let gw: TestGateway
let key: string
let sink: SmtpSink | undefined
const servers: { stop(): unknown }[] = []

afterEach(async () => {
  await gw?.close()
  await closeSmtpTransports()
  await sink?.stop()
  sink = undefined
  for (const s of servers.splice(0)) await s.stop()
})

async function start(sinkOpts: SmtpSinkOptions = { auth: AUTH }, overrides: Record<string, any> = {}) {
  sink = await startSmtpSink(sinkOpts)
  gw = await startTestGateway(overrides)
  key = (await gw.tenant('acme')).key
}

const call = (method: string, path: string, body?: unknown) => gw.call(method, `/v1/namespaces/acme${path}`, key, body)
const config = (extra: Record<string, unknown> = {}) => ({
  host: '127.0.0.1',
  port: sink!.port,
  starttls: 'never',
  ...AUTH,
  ...extra,
})

async function mailChannel(extra: Record<string, unknown> = {}, opts: { terminal?: boolean; maxAttempts?: number } = {}) {
  const res = await call('POST', '/channels', { name: 'mail', type: 'smtp', config: config(extra), max_attempts: opts.maxAttempts ?? 2 })
  expect(res.status).toBe(201)
  if (opts.terminal !== false) expect((await call('POST', '/channels/mail/terminals', { address: FROM })).status).toBe(201)
  return (await res.json()) as { id: string; config: Record<string, unknown>; inbound_url: string | null }
}

async function send(body: Record<string, unknown> = {}): Promise<string> {
  const res = await call('POST', '/messages', { channel: 'mail', to: TO, content: { subject: 'Hi', text: 'hello' }, ...body })
  expect(res.status).toBe(202)
  return ((await res.json()) as { id: string }).id
}

type MessageBody = { status: string; attempts: number; provider_message_id: string | null; error: { code: string; message: string } | null }
const message = async (id: string) => (await (await call('GET', `/messages/${id}`)).json()) as MessageBody
const final = (id: string) => eventually(async () => ['sent', 'failed'].includes((await message(id)).status) && message(id))

describe('smtp: the message on the wire', () => {
  test('From, To, subject, text, html, attachments, Message-ID, Reply-To, custom headers, DKIM, AUTH', async () => {
    await start()
    const pdf = Buffer.from('%PDF-1.4 fake invoice \x00\x01\x02', 'latin1')
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2, 3])
    const files = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response(png, { headers: { 'content-type': 'image/png' } }) })
    servers.push(files)
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } })
    const channel = await mailChannel({ dkim: { domain_name: 'acme.test', key_selector: 'og2025', private_key: privateKey }, headers: { 'X-Channel': 'mail' } })
    await gw.startEngine()
    // Secrets never come back; the DKIM block is masked whole since the key sits inside it.
    expect(channel.config.password).toBe('••••nger')
    expect(JSON.stringify(channel.config.dkim)).not.toContain('PRIVATE KEY')
    expect(channel.inbound_url).toBeNull()

    const id = await send({
      content: {
        subject: 'Your invoice ✓',
        text: 'Invoice attached.',
        html: '<p>Invoice <b>attached</b>.</p>',
        attachments: [
          { filename: 'invoice.pdf', content_type: 'application/pdf', content_base64: pdf.toString('base64') },
          { filename: 'logo.png', url: `http://127.0.0.1:${files.port}/logo.png` },
        ],
      },
      options: { smtp: { reply_to: 'support@acme.test', from_name: 'ACME Shop', headers: { 'X-Campaign': 'june' } } },
    })
    const done = await final(id)
    expect(done).toMatchObject({ status: 'sent', attempts: 1, provider_message_id: `<${id}@acme.test>` })

    expect(sink!.received).toHaveLength(1)
    const wire = sink!.received[0]!
    expect(wire).toMatchObject({ mailFrom: FROM, rcptTo: [TO], user: AUTH.username })
    const mail = await simpleParser(wire.raw)
    expect(mail.from?.value).toEqual([{ address: FROM, name: 'ACME Shop' }])
    expect(mail.to).toMatchObject({ value: [{ address: TO, name: '' }] })
    expect(mail.subject).toBe('Your invoice ✓')
    expect(mail.text?.trim()).toBe('Invoice attached.')
    expect(mail.html).toBe('<p>Invoice <b>attached</b>.</p>')
    expect(mail.messageId).toBe(`<${id}@acme.test>`)
    expect(mail.replyTo?.value).toEqual([{ address: 'support@acme.test', name: '' }])
    expect(mail.headers.get('x-campaign')).toBe('june')
    expect(mail.headers.get('x-channel')).toBe('mail')
    expect(mail.headers.has('list-unsubscribe')).toBe(false)
    expect(mail.attachments.map((a) => [a.filename, a.contentType])).toEqual([
      ['invoice.pdf', 'application/pdf'],
      ['logo.png', 'image/png'],
    ])
    expect(Buffer.compare(mail.attachments[0]!.content, pdf)).toBe(0)
    expect(Buffer.compare(mail.attachments[1]!.content, png)).toBe(0)
    const dkim = /^DKIM-Signature:(.*(?:\r\n[ \t].*)*)/m.exec(wire.raw.toString())?.[1] ?? ''
    expect(dkim).toContain('d=acme.test')
    expect(dkim).toContain('s=og2025')
    expect(dkim.replace(/\s+/g, '')).toMatch(/b=[A-Za-z0-9+/=]{100,}/)
  })

  test('with list_unsubscribe: RFC 8058 headers, and the one-click POST suppresses the recipient', async () => {
    await start()
    await mailChannel({ list_unsubscribe: true })
    await gw.startEngine()
    expect((await final(await send())).status).toBe('sent')
    const raw = sink!.received[0]!.raw.toString()
    expect(raw).toContain('\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n')
    const link = /^List-Unsubscribe: <([^>]+)>\r$/m.exec(raw)?.[1]
    expect(link).toStartWith(`${gw.deps.publicUrl}/unsubscribe/`)
    // The token is sealed: the address cannot be read out of it.
    expect(link).not.toContain('bob')
    const path = new URL(link!).pathname

    // A GET (a person, or a link scanner) shows a form and changes nothing.
    const page = await gw.app.request(path)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('<form method="post">')
    expect(((await (await call('GET', '/suppressions')).json()) as { data: unknown[] }).data).toEqual([])

    // What a mail client sends for one click (RFC 8058 §3.2).
    const res = await gw.app.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    })
    expect(res.status).toBe(200)
    const list = (await (await call('GET', '/suppressions')).json()) as { data: { channel_type: string; recipient: string; reason: string }[] }
    expect(list.data).toMatchObject([{ channel_type: 'smtp', recipient: TO, reason: 'opt-out' }])

    const next = await final(await send())
    expect(next).toMatchObject({ status: 'failed', error: { code: 'recipient_suppressed' } })
    expect(sink!.received).toHaveLength(1)
  })

  test('a forged or altered unsubscribe token is a 404 problem and suppresses nobody', async () => {
    await start()
    await mailChannel({ list_unsubscribe: true })
    await gw.startEngine()
    await final(await send())
    const link = /^List-Unsubscribe: <([^>]+)>/m.exec(sink!.received[0]!.raw.toString())![1]!
    const token = new URL(link).pathname.split('/').pop()!
    const altered = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`
    for (const bad of [altered, 'v1.AAAA.BBBB', 'nonsense']) {
      const res = await gw.app.request(`/unsubscribe/${bad}`, { method: 'POST', body: 'List-Unsubscribe=One-Click' })
      expect(res.status).toBe(404)
      expect(res.headers.get('content-type')).toStartWith('application/problem+json')
    }
    expect(((await (await call('GET', '/suppressions')).json()) as { data: unknown[] }).data).toEqual([])
  })
})

describe('smtp: replies and failures', () => {
  test('550 at RCPT fails the message at once', async () => {
    await start({ auth: AUTH, rcpt: () => [550, '5.1.1 <bob@example.net>: Recipient address rejected: User unknown'] })
    await mailChannel()
    await gw.startEngine()
    const done = await final(await send())
    expect(done).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'smtp_550' } })
    expect(done.error!.message).toContain('User unknown')
  })

  test('451 is retried, and the retry is sent', async () => {
    await start({ auth: AUTH, data: (n) => (n === 1 ? [451, '4.3.0 Temporary lookup failure'] : null) })
    await mailChannel()
    await gw.startEngine()
    const id = await send()
    const done = await final(id)
    expect(done).toMatchObject({ status: 'sent', attempts: 2 })
    const events = ((await (await call('GET', `/messages/${id}`)).json()) as { events: { status: string; error: { code: string } | null }[] }).events
    expect(events.find((e) => e.error)?.error?.code).toBe('smtp_451')
    expect(sink!.received).toHaveLength(1)
  })

  test('451 on every attempt fails after max_attempts', async () => {
    await start({ auth: AUTH, rcpt: () => [451, '4.7.1 Try again later'] })
    await mailChannel({}, { maxAttempts: 2 })
    await gw.startEngine()
    expect(await final(await send())).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'smtp_451' } })
  })

  test('wrong credentials (535) fail at once', async () => {
    await start()
    await mailChannel({ password: 'not-the-password' })
    await gw.startEngine()
    expect(await final(await send())).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'smtp_535' } })
  })

  test('a refused connection is transient: retried, then failed after max_attempts', async () => {
    await start()
    const port = sink!.port
    await sink!.stop()
    sink = undefined
    const res = await call('POST', '/channels', { name: 'mail', type: 'smtp', config: { host: '127.0.0.1', port, starttls: 'never' }, max_attempts: 2 })
    expect(res.status).toBe(201)
    await call('POST', '/channels/mail/terminals', { address: FROM })
    await gw.startEngine()
    expect(await final(await send())).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'connection_error' } })
  })

  test('a private host is refused on create, and at send time, unless security.allow_private_network', async () => {
    await start({ auth: AUTH }, { security: { allow_private_network: false } })
    const refused = await call('POST', '/channels', { name: 'mail', type: 'smtp', config: config() })
    expect(refused.status).toBe(422)
    expect(((await refused.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual(['config.host'])
    // A channel stored before the setting changed is still refused when it sends.
    const { insertChannel } = await import('../../src/domain/channels')
    const { getNamespace } = await import('../../src/domain/namespaces')
    const namespaceId = (await getNamespace(gw.deps, 'acme')).id
    await gw.deps.store.tx((tx) => insertChannel(gw.deps, tx, namespaceId, { name: 'mail', type: 'smtp', max_attempts: 2 }, config() as Record<string, unknown>))
    expect((await call('POST', '/channels/mail/terminals', { address: FROM })).status).toBe(201)
    await gw.startEngine()
    const done = await final(await send())
    expect(done).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'host_rejected' } })
    expect(done.error!.message).toContain('loopback')
    expect(sink!.connections).toBe(0)
  })

  test('pooled sends share a connection; without pool each send connects', async () => {
    await start()
    await mailChannel()
    await gw.startEngine({ concurrency: 1 })
    for (let i = 0; i < 3; i++) expect((await final(await send())).status).toBe('sent')
    expect(sink!.connections).toBe(1)
    expect((await call('PATCH', '/channels/mail', { config: config({ pool: false }) })).status).toBe(200)
    // The dispatcher caches a channel's config for two seconds.
    await eventually(async () => (await final(await send())).status === 'sent' && sink!.connections >= 2)
    const before = sink!.connections
    await final(await send())
    expect(sink!.connections).toBe(before + 1)
  })
})

// node:crypto cannot issue X.509 certificates, so the TLS cases need the openssl CLI.
const certificate = selfSignedCertificate()
function haveOpenssl(): boolean {
  if (certificate) return true
  if (process.env.CI) throw new Error('openssl is not installed: the STARTTLS tests cannot run, and in CI they must')
  console.warn('\n⚠️  openssl is not installed: the smtp STARTTLS/TLS tests did NOT run (install openssl to run them)\n')
  return false
}

describe('smtp: TLS', () => {
  test('starttls = required upgrades before AUTH (self-signed server, tls_reject_unauthorized = false)', async () => {
    if (!haveOpenssl()) return
    await start({ auth: AUTH, tls: certificate! })
    await mailChannel({ starttls: 'required', tls_reject_unauthorized: false })
    await gw.startEngine()
    expect((await final(await send())).status).toBe('sent')
    expect(sink!.received[0]).toMatchObject({ secure: true, user: AUTH.username })
  })

  test('opportunistic STARTTLS is the default and upgrades when the server offers it', async () => {
    if (!haveOpenssl()) return
    await start({ auth: AUTH, tls: certificate! })
    await mailChannel({ starttls: undefined, tls_reject_unauthorized: false })
    await gw.startEngine()
    expect((await final(await send())).status).toBe('sent')
    expect(sink!.received[0]!.secure).toBe(true)
  })

  test('implicit TLS (secure = true)', async () => {
    if (!haveOpenssl()) return
    await start({ auth: AUTH, tls: certificate!, secure: true })
    await mailChannel({ secure: true, tls_reject_unauthorized: false })
    await gw.startEngine()
    expect((await final(await send())).status).toBe('sent')
    expect(sink!.received[0]!.secure).toBe(true)
  })

  test('a certificate that does not verify is refused: nothing is sent', async () => {
    if (!haveOpenssl()) return
    await start({ auth: AUTH, tls: certificate! })
    await mailChannel({ starttls: 'required' }, { maxAttempts: 2 })
    await gw.startEngine()
    expect(await final(await send())).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'tls_error' } })
    expect(sink!.received).toHaveLength(0)
  })

  test('starttls = required against a server without STARTTLS fails at once, before any credential is sent', async () => {
    await start({ auth: AUTH })
    await mailChannel({ starttls: 'required' })
    await gw.startEngine()
    expect(await final(await send())).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'starttls_unavailable' } })
    expect(sink!.received).toHaveLength(0)
  })
})

type Problem = { code: string; errors: { field: string; message: string }[] }
const fields = async (res: Response) => {
  expect(res.status).toBe(422)
  return ((await res.json()) as Problem).errors.map((e) => e.field).sort()
}

describe('smtp: what the API refuses', () => {
  test('config: host required, username and password together, a real DKIM key, no gateway-owned headers', async () => {
    await start()
    const create = (cfg: Record<string, unknown>) => call('POST', '/channels', { name: 'mail', type: 'smtp', config: cfg })
    expect(await fields(await create({ port: 25 }))).toEqual(['config.host'])
    expect(await fields(await create({ host: 'smtp.example.com', username: 'me' }))).toEqual(['config.password'])
    expect(await fields(await create({ host: 'not a host' }))).toEqual(['config.host'])
    expect(
      await fields(await create({ host: 'smtp.example.com', dkim: { domain_name: 'acme.test', key_selector: 's1', private_key: 'nope' } })),
    ).toEqual(['config.dkim.private_key'])
    expect(await fields(await create({ host: 'smtp.example.com', headers: { Subject: 'x', 'Bad Name': 'y' } }))).toEqual([
      'config.headers.Bad Name',
      'config.headers.Subject',
    ])
    expect(await fields(await create({ host: 'smtp.example.com', starttls: 'sometimes', extra: 1 }))).toEqual(['config.extra', 'config.starttls'])
  })

  test('messages: to must be an address, a From is needed, options.smtp is checked', async () => {
    await start()
    await mailChannel({}, { terminal: false })
    const post = (body: Record<string, unknown>) => call('POST', '/messages', { channel: 'mail', content: { text: 'hi' }, ...body })
    expect(await fields(await post({ to: 'bob', from: FROM }))).toEqual(['to'])
    expect(await fields(await post({ to: TO }))).toEqual(['from'])
    expect(await fields(await post({ to: TO, from: 'shop' }))).toEqual(['from'])
    expect(
      await fields(await post({ to: TO, from: FROM, options: { smtp: { reply_to: 'nobody', headers: { From: 'x@y.z' }, cc: 'a@b.c' } } })),
    ).toEqual(['options.smtp.cc', 'options.smtp.headers.From', 'options.smtp.reply_to'])
    // Without terminals a valid From is taken as given.
    expect((await post({ to: TO, from: FROM })).status).toBe(202)
  })
})

describe('smtp: health', () => {
  test('POST /channels/{id}/test logs in to the server', async () => {
    await start()
    await mailChannel()
    const res = await call('POST', '/channels/mail/test')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true, detail: `127.0.0.1:${sink!.port} accepted the connection and the credentials` })
  })

  test('wrong credentials are reported with the server reply', async () => {
    await start()
    await mailChannel({ password: 'wrong-password' })
    const body = (await (await call('POST', '/channels/mail/test')).json()) as { ok: boolean; detail: string }
    expect(body.ok).toBe(false)
    expect(body.detail).toContain('535')
    expect(body.detail).toContain('Authentication credentials invalid')
  })
})
