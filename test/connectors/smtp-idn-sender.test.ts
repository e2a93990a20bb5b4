/**
 * An smtp terminal with an internationalised domain (`shop@bücher.test`): the Message-ID the
 * gateway makes is ASCII (punycode), as nodemailer writes From, so a bounce returning it finds
 * the message. (It kept the raw UTF-8 domain: an 8-bit header, read back as latin1 from a DSN,
 * so the bounce never matched and the recipient was never suppressed.)
 */
import { afterEach, expect, test } from 'bun:test'
import { parseMailReport } from '../../src/connectors/smtp/reports'
import { closeSmtpTransports } from '../../src/connectors/smtp/transports'
import { type SmtpSink, startSmtpSink } from '../fakes/smtp-server'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

const SHOP = 'shop@bücher.test'
const SHOP_ACE = 'shop@xn--bcher-kva.test'
const BOB = 'bob@example.net'

let gw: TestGateway
let key: string
let sink: SmtpSink
const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const call = (method: string, path: string, body?: unknown) => gw.call(method, `/v1/namespaces/acme${path}`, key, body)
type Msg = { id: string; status: string; provider_message_id: string | null; from: string; to: string }

async function start() {
  sink = await startSmtpSink()
  cleanups.push(() => sink.stop(), () => closeSmtpTransports())
  gw = await startTestGateway()
  cleanups.push(() => gw.close())
  key = (await gw.tenant('acme')).key
  expect((await call('POST', '/channels', { name: 'mail', type: 'smtp', config: { host: '127.0.0.1', port: sink.port, starttls: 'never' } })).status).toBe(201)
  expect((await call('POST', '/channels/mail/terminals', { address: SHOP })).status).toBe(201)
  await gw.startEngine()
}

async function sendOutbound(): Promise<Msg> {
  const res = await call('POST', '/messages', { channel: 'mail', to: BOB, content: { subject: 'Order', text: 'shipped' } })
  expect(res.status).toBe(202)
  const { id } = (await res.json()) as { id: string }
  return eventually(async () => {
    const m = (await (await call('GET', `/messages/${id}`)).json()) as Msg
    return ['sent', 'failed'].includes(m.status) && m
  })
}

test("the Message-ID is plain ASCII, and a bounce that returns the sent headers names the message's provider id", async () => {
  await start()
  const sent = await sendOutbound()
  const raw = sink.received[0]!.raw
  const headerBlock = raw.subarray(0, raw.indexOf('\r\n\r\n'))

  // A DSN returning the headers as sent (text/rfc822-headers, byte for byte) must find the message.
  const dsn = Buffer.concat([
    Buffer.from(
      [
        'From: MAILER-DAEMON@mx.example.net',
        `To: ${SHOP_ACE}`,
        'MIME-Version: 1.0',
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"',
        '',
        '--B1',
        'Content-Type: message/delivery-status',
        '',
        'Reporting-MTA: dns; mx.example.net',
        '',
        `Final-Recipient: rfc822; ${BOB}`,
        'Action: failed',
        'Status: 5.1.1',
        '',
        '--B1',
        'Content-Type: text/rfc822-headers',
        '',
        '',
      ].join('\r\n'),
    ),
    headerBlock,
    Buffer.from('\r\n\r\n--B1--\r\n'),
  ])
  expect(parseMailReport(dsn)).toMatchObject({ kind: 'bounce', originalMessageId: sent.provider_message_id! })

  // The root cause: RFC 5322 §3.6.4 msg-id is ASCII; without SMTPUTF8 a header may not carry 8-bit
  // bytes (RFC 6532). nodemailer writes the From domain as punycode, the Message-ID keeps UTF-8.
  const messageIdLine = headerBlock.toString('utf8').split('\r\n').find((l) => /^message-id:/i.test(l))!
  expect(messageIdLine).toMatch(/^[\x20-\x7e]+$/)
})
