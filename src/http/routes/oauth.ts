/**
 * The OAuth2 token endpoint (RFC 6749 §4.4, client credentials) and the JWKS that verifies its
 * tokens. Both follow their own standards rather than the API's conventions: a form body,
 * `{"error": …}` answers, no bearer token.
 */
import { OpenAPIHono, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { Deps } from '../../domain/deps'
import { issueClientToken, OAuthError, type TokenRequest } from '../../domain/identity/clients'
import { jwks } from '../../domain/identity/signing-keys'
import type { AppEnv } from '../env'
import { json } from '../schemas'

/** A token request is a few short parameters; anything bigger is not one. */
const TOKEN_BODY_LIMIT_BYTES = 16 * 1024
/** Verifiers may cache the key set this long; they re-fetch it when they meet an unknown kid. */
const JWKS_MAX_AGE_SECONDS = 300
const FORM = /^application\/x-www-form-urlencoded\s*(;|$)/i
const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' }

const fail = (error: OAuthError['error'], description: string) => new OAuthError(error, description)

/** `application/x-www-form-urlencoded` decoding of one Basic credential half (RFC 6749 §2.3.1). */
function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replaceAll('+', ' '))
  } catch {
    throw fail('invalid_client', 'the Basic credentials are not form-urlencoded')
  }
}

/** The client id and secret from `Authorization: Basic`, or null when there is no such header. */
function basicCredentials(header: string | undefined): { clientId: string; clientSecret: string } | null {
  if (header === undefined) return null
  const match = /^Basic +([A-Za-z0-9+/]+={0,2})$/i.exec(header.trim())
  if (!match) throw fail('invalid_client', 'client authentication must use the Basic scheme or the form parameters')
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) throw fail('invalid_client', 'the Basic credentials must be client_id:client_secret')
  return { clientId: formDecode(decoded.slice(0, colon)), clientSecret: formDecode(decoded.slice(colon + 1)) }
}

/** Reads and checks the request; the grant itself is judged by the domain. */
async function tokenRequest(c: Context): Promise<TokenRequest> {
  if (!FORM.test(c.req.header('content-type') ?? '')) {
    throw fail('invalid_request', 'send the parameters as application/x-www-form-urlencoded')
  }
  const params = new Map<string, string>()
  for (const [name, value] of new URLSearchParams(await c.req.text())) {
    // RFC 6749 §3.2: no parameter twice; one sent without a value counts as omitted.
    if (params.has(name)) throw fail('invalid_request', `the parameter ${name} was sent more than once`)
    if (value !== '') params.set(name, value)
  }
  const grantType = params.get('grant_type')
  if (grantType === undefined) throw fail('invalid_request', 'the parameter grant_type is missing')
  const basic = basicCredentials(c.req.header('authorization'))
  if (basic) {
    if (params.has('client_secret')) throw fail('invalid_request', 'authenticate with Basic or with client_secret in the body, not both')
    if (params.has('client_id') && params.get('client_id') !== basic.clientId) {
      throw fail('invalid_request', 'client_id in the body differs from the Basic credentials')
    }
    return { ...basic, grantType, scope: params.get('scope') }
  }
  const clientId = params.get('client_id')
  const clientSecret = params.get('client_secret')
  if (clientId === undefined || clientSecret === undefined) {
    throw fail('invalid_client', 'no client authentication: use HTTP Basic or client_id and client_secret')
  }
  return { clientId, clientSecret, grantType, scope: params.get('scope') }
}

function oauthProblem(c: Context, error: OAuthError): Response {
  const headers: Record<string, string> = { ...NO_STORE }
  // 401 must name a scheme the client can use (RFC 6749 §5.2, RFC 9110 §15.5.2).
  if (error.error === 'invalid_client') headers['www-authenticate'] = 'Basic realm="omnigate", charset="UTF-8"'
  return c.json({ error: error.error, error_description: error.description }, error.error === 'invalid_client' ? 401 : 400, headers)
}

const tokenSchema = z
  .object({ access_token: z.string(), token_type: z.literal('Bearer'), expires_in: z.number().int(), scope: z.string() })
  .openapi('AccessToken')
const oauthErrorSchema = z
  .object({
    error: z.enum(['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope']),
    error_description: z.string(),
  })
  .openapi('OAuthError')

export function oauthRoutes(deps: Deps) {
  const app = new OpenAPIHono<AppEnv>()
  app.use(
    '/token',
    bodyLimit({ maxSize: TOKEN_BODY_LIMIT_BYTES, onError: (c) => oauthProblem(c, fail('invalid_request', 'the request body is too large')) }),
  )
  app.post('/token', async (c) => {
    try {
      const request = await tokenRequest(c)
      return c.json(await issueClientToken(deps, request), 200, NO_STORE)
    } catch (error) {
      if (error instanceof OAuthError) return oauthProblem(c, error)
      throw error
    }
  })
  app.all('/token', (c) => c.json({ error: 'invalid_request', error_description: 'use POST' }, 405, { ...NO_STORE, allow: 'POST' }))
  app.openAPIRegistry.registerPath({
    method: 'post',
    path: '/token',
    tags: ['oauth'],
    summary: 'Client credentials grant (RFC 6749 §4.4): an access token for an OAuth client',
    description:
      'Authenticate with HTTP Basic (client_id:client_secret, each form-urlencoded) or with client_id and client_secret in the body, not both. ' +
      "`scope` (space-separated) narrows the token to a subset of the client's scopes.",
    security: [],
    request: {
      body: {
        required: true,
        content: {
          'application/x-www-form-urlencoded': {
            schema: z.object({
              grant_type: z.literal('client_credentials'),
              scope: z.string().optional().openapi({ example: 'messages:send messages:read' }),
              client_id: z.string().optional(),
              client_secret: z.string().optional(),
            }),
          },
        },
      },
    },
    responses: {
      200: json(tokenSchema, 'The access token (a JWT; verify it with /.well-known/jwks.json)'),
      400: json(oauthErrorSchema, 'invalid_request, invalid_grant, unauthorized_client, unsupported_grant_type or invalid_scope'),
      401: json(oauthErrorSchema, 'invalid_client'),
    },
  })
  return app
}

export function wellKnownRoutes(deps: Deps) {
  const app = new OpenAPIHono<AppEnv>()
  app.get('/jwks.json', async (c) => c.json(await jwks(deps), 200, { 'cache-control': `public, max-age=${JWKS_MAX_AGE_SECONDS}` }))
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/jwks.json',
    tags: ['oauth'],
    summary: 'The public keys that verify access tokens, by kid (RFC 7517)',
    security: [],
    responses: { 200: json(z.object({ keys: z.array(z.record(z.string(), z.unknown())) }), 'The JSON Web Key Set') },
  })
  return app
}
