import { describe, expect, test } from 'bun:test'
import { parseMailReport } from './reports'

const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'))

describe('parseMailReport', () => {
  test('a DSN returning the whole message (message/rfc822), several recipients, CRLF', () => {
    const raw = crlf([
      'From: MAILER-DAEMON@mx.example.net',
      'Content-Type: multipart/report; report-type="delivery-status"; boundary=abc',
      '',
      'preamble',
      '--abc',
      'Content-Type: text/plain',
      '',
      'failed',
      '--abc',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.example.net',
      '',
      'Final-Recipient: rfc822; <Bob@Example.net>',
      'Action: failed',
      'Status: 5.1.1 (user unknown)',
      'Diagnostic-Code: smtp; 550 5.1.1 user unknown',
      '',
      'Final-Recipient: rfc822; carol@example.net',
      'Action: delayed',
      'Status: 4.4.7',
      '',
      '--abc',
      'Content-Type: message/rfc822',
      '',
      'From: shop@acme.test',
      'Message-ID:',
      ' <msg_1@acme.test>',
      'Subject: hi',
      '',
      'body',
      '--abc--',
    ])
    expect(parseMailReport(raw)).toEqual({
      kind: 'bounce',
      originalMessageId: '<msg_1@acme.test>',
      recipients: [
        { recipient: 'Bob@Example.net', action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 user unknown' },
        { recipient: 'carol@example.net', action: 'delayed', status: '4.4.7' },
      ],
    })
  })

  test('a base64-encoded delivery-status part with LF line endings', () => {
    const status = Buffer.from('Reporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; bob@example.net\nAction: failed\nStatus: 5.2.2\n').toString('base64')
    const raw = Buffer.from(
      [
        'Content-Type: multipart/report; report-type=delivery-status; boundary="x y"',
        '',
        '--x y',
        'Content-Type: message/delivery-status',
        'Content-Transfer-Encoding: base64',
        '',
        status,
        '--x y',
        'Content-Type: text/rfc822-headers',
        '',
        'Message-ID: <m@acme.test>',
        '--x y--',
      ].join('\n'),
    )
    expect(parseMailReport(raw)).toEqual({
      kind: 'bounce',
      originalMessageId: '<m@acme.test>',
      recipients: [{ recipient: 'bob@example.net', action: 'failed', status: '5.2.2' }],
    })
  })

  test('an ARF report, recipient from the returned To when Original-Rcpt-To is absent', () => {
    const raw = crlf([
      'Content-Type: multipart/report; report-type=feedback-report; boundary=b',
      '',
      '--b',
      'Content-Type: message/feedback-report',
      '',
      'Feedback-Type: Abuse',
      'Version: 1',
      '--b',
      'Content-Type: text/rfc822-headers',
      '',
      'To: Bob <bob@example.net>',
      'Message-ID: <m@acme.test>',
      '--b--',
    ])
    expect(parseMailReport(raw)).toEqual({ kind: 'complaint', recipient: 'bob@example.net', feedbackType: 'abuse', originalMessageId: '<m@acme.test>' })
  })

  test('ordinary mail, other report types and reports without recipients are not reports', () => {
    expect(parseMailReport(crlf(['Content-Type: text/plain', '', 'hello']))).toBeNull()
    expect(parseMailReport(crlf(['Subject: no content type', '', 'hello']))).toBeNull()
    expect(parseMailReport(crlf(['Content-Type: multipart/report; report-type=disposition-notification; boundary=b', '', '--b', '', 'x', '--b--']))).toBeNull()
    expect(parseMailReport(crlf(['Content-Type: multipart/report; report-type=delivery-status; boundary=b', '', '--b', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; mx', '--b--']))).toBeNull()
  })
})
