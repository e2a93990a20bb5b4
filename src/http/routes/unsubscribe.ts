/**
 * `/unsubscribe/{token}`: the one-click unsubscribe links of outbound e-mail (RFC 8058). Mail
 * clients POST `List-Unsubscribe=One-Click` to it; a person who opens the link gets a page with
 * a button that POSTs, since a GET must change nothing (link scanners open every link).
 * Not under /v1 and not authenticated: the sealed token is the credential.
 */
import { Hono } from 'hono'
import type { Deps } from '../../domain/deps'
import { checkUnsubscribeToken, unsubscribe } from '../../domain/inbound/email'

const PAGE_HEADERS = {
  'cache-control': 'no-store',
  // The token is in the URL: it must not leak to another site through a Referer.
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${title}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}button{font:inherit;padding:.5rem 1rem}</style>
</head><body><h1>${title}</h1>${body}</body></html>`
}

export function unsubscribeRoutes(deps: Deps) {
  return new Hono()
    .get('/:token', async (c) => {
      await checkUnsubscribeToken(deps, c.req.param('token'))
      const form = '<p>Stop receiving these e-mails at this address?</p><form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>'
      return c.html(page('Unsubscribe', form), 200, PAGE_HEADERS)
    })
    .post('/:token', async (c) => {
      await unsubscribe(deps, c.req.param('token'))
      return c.html(page('Unsubscribed', '<p>This address will not receive these e-mails any more.</p>'), 200, PAGE_HEADERS)
    })
}
