/**
 * Self-service signup under /v1/auth (mounted ahead of the bearer check, like the other auth
 * routes): signup, verification and resending the link; plus `/portal/verify`, the minimal page
 * the mailed link opens until the portal exists.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi'
import { Hono, type Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { recordAudit } from '../../domain/audit'
import { type Deps, now } from '../../domain/deps'
import { AppError, errors } from '../../domain/errors'
import { LoginLimiter } from '../../domain/identity/login-limiter'
import { provisioningView } from '../../domain/provisioning/jobs'
import { PROVISION_WAIT_MS, provisionNow } from '../../domain/provisioning/provision'
import { describeVerification, resendVerification, signup, verifyEmail } from '../../domain/provisioning/signup'
import type { Logger } from '../../lib/log'
import { requestClientIp } from '../client-ip'
import type { AppEnv } from '../env'
import { requireJsonBody } from '../middleware/json-body'
import { bodyProblems, json, problem, provisioningSchema } from '../schemas'

// An e-mail, a password and a name: a few kilobytes is plenty.
const SIGNUP_BODY_LIMIT_BYTES = 16 * 1024
// One mail per address per minute: enough to retry a lost mail, too few to flood an inbox.
const MAILS_PER_ADDRESS_PER_MINUTE = 1

const body = <T extends z.ZodType>(schema: T) => ({ required: true, content: { 'application/json': { schema } } })
const tags = ['auth']
const open = { security: [] }

const acceptedSchema = z.object({ status: z.literal('pending_verification'), detail: z.string() })
const email = () => z.string().min(1).max(254)

const routes = {
  signup: createRoute({
    method: 'post',
    path: '/signup',
    tags,
    ...open,
    summary: 'Sign up: mails a verification link (always 202, whether the address has an account or not)',
    request: { body: body(z.strictObject({ email: email(), password: z.string().min(1).max(1024), namespace: z.string().min(1).max(63).openapi({ example: 'acme' }) })) },
    responses: {
      202: json(acceptedSchema, 'If the address can sign up, a link is on its way'),
      403: problem('Signup is off (signup_disabled)'),
      409: problem('The namespace is taken (namespace_taken)'),
      429: problem('Too many signups from this address or client; see Retry-After'),
      503: problem('The instance has no [mail] settings'),
      ...bodyProblems,
      422: problem('Validation failed, or the e-mail domain is refused (email_domain_not_allowed)'),
    },
  }),
  verify: createRoute({
    method: 'post',
    path: '/verify',
    tags,
    ...open,
    summary: 'Follow a verification link: provisions the namespace; its API key is in the answer once it is ready',
    request: { body: body(z.strictObject({ token: z.string().min(1).max(512) })) },
    responses: {
      200: json(provisioningSchema, 'Ready (with api_key) or failed'),
      202: json(provisioningSchema, 'Still provisioning: the owner sees the key once at GET /v1/namespaces/{ns}/provisioning'),
      403: problem('Signup is off'),
      409: problem('The namespace was taken meanwhile; the link still works for nothing else, sign up again'),
      ...bodyProblems,
      400: problem('Malformed JSON, or the link is invalid, expired or used'),
    },
  }),
  resend: createRoute({
    method: 'post',
    path: '/verify/resend',
    tags,
    ...open,
    summary: 'Mail a new verification link for an unverified signup (always 202)',
    request: { body: body(z.strictObject({ email: email() })) },
    responses: { 202: json(acceptedSchema, 'If the address has a signup waiting, a new link is on its way'), 403: problem('Signup is off'), 429: problem('Too many attempts'), 503: problem('No [mail] settings'), ...bodyProblems },
  }),
}

/**
 * Per-client and per-address limits for signup, verification and resend (per instance, in
 * memory). One set per gateway: the API's verify and the mailed link's page share the
 * per-client count, so the page is no way around it.
 */
const limitsByDeps = new WeakMap<Deps, ReturnType<typeof newSignupLimits>>()
function signupLimits(deps: Deps) {
  let limits = limitsByDeps.get(deps)
  if (!limits) limitsByDeps.set(deps, (limits = newSignupLimits(deps)))
  return limits
}

function newSignupLimits(deps: Deps) {
  const clock = () => now(deps)
  const perClient = new LoginLimiter(deps.limits.loginAttemptsPerMinute, clock)
  const perAddress = new LoginLimiter(MAILS_PER_ADDRESS_PER_MINUTE, clock)
  const refuse = (c: Context, verdict: ReturnType<LoginLimiter['take']>) => {
    if (verdict.ok) return
    c.header('Retry-After', String(verdict.retryAfterSeconds))
    throw errors.tooManyAttempts(`too many attempts; try again in ${verdict.retryAfterSeconds} s`)
  }
  return {
    client: (c: Context, kind: string) => refuse(c, perClient.take([`${kind}:ip:${requestClientIp(c, deps)}`])),
    address: (c: Context, address: string) => refuse(c, perAddress.take([`mail:${address.trim().toLowerCase()}`])),
  }
}

/** Verifies, runs the provisioning for up to PROVISION_WAIT_MS, and records who did it. */
export async function verifyAndProvision(deps: Deps, c: Context, token: string) {
  const job = await verifyEmail(deps, token)
  const { job: latest, apiKey } = await provisionNow(deps, job.id, { waitMs: PROVISION_WAIT_MS, revealKey: true })
  await recordAudit(deps.store, {
    namespaceId: latest.namespaceId,
    actor: { type: 'user', id: latest.userId },
    action: `POST ${c.req.routePath}`,
    resource: { type: 'provisioning_job', id: latest.id },
    ip: requestClientIp(c, deps),
    at: now(deps),
  })
  return { job: latest, view: provisioningView(latest, apiKey) }
}

export function signupRoutes(deps: Deps, log: Logger) {
  const limits = signupLimits(deps)
  // The mailer logs its own failures (without the link); anything else is logged here.
  const background = (settled: Promise<void>) =>
    settled.catch((error) => log.warn('signup background work failed', { error: error instanceof Error ? error.message : String(error) }))
  const app = new OpenAPIHono<AppEnv>()
  app.use(
    '*',
    bodyLimit({
      maxSize: SIGNUP_BODY_LIMIT_BYTES,
      onError: () => {
        throw errors.payloadTooLarge(`the body is larger than ${SIGNUP_BODY_LIMIT_BYTES} bytes`)
      },
    }),
    requireJsonBody(),
  )
  return app
    .openapi(routes.signup, async (c) => {
      limits.client(c, 'signup')
      const input = c.req.valid('json')
      const { settled } = await signup(deps, input, (address) => limits.address(c, address))
      void background(settled)
      return c.json({ status: 'pending_verification' as const, detail: 'if this address can sign up, a verification link is on its way' }, 202)
    })
    .openapi(routes.verify, async (c) => {
      limits.client(c, 'verify')
      const { job, view } = await verifyAndProvision(deps, c, c.req.valid('json').token)
      c.header('Cache-Control', 'no-store')
      return c.json(view, job.status === 'pending' ? 202 : 200)
    })
    .openapi(routes.resend, async (c) => {
      limits.client(c, 'resend')
      const { email: address } = c.req.valid('json')
      limits.address(c, address)
      const { settled } = await resendVerification(deps, address)
      void background(settled)
      return c.json({ status: 'pending_verification' as const, detail: 'if this address has a signup waiting, a new link is on its way' }, 202)
    })
}

// The page the mailed link opens: no script at all, nothing from elsewhere, never framed.
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
}
const PAGE_BODY_LIMIT_BYTES = 4 * 1024

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!)

function page(title: string, inner: string): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta name="referrer" content="no-referrer"><title>${escapeHtml(title)} · omnigate</title></head>`,
    `<body><main><h1>${escapeHtml(title)}</h1>${inner}</main></body></html>`,
  ].join('\n')
}

/**
 * `GET /portal/verify?token=…` shows one button; only its POST verifies, so a mail scanner
 * that fetches the link does not use it up. The POST answers with the result and, when the
 * namespace is ready, its API key (once).
 */
export function portalVerifyRoutes(deps: Deps) {
  const limits = signupLimits(deps)
  const app = new Hono<AppEnv>()
  app.use(
    '/verify',
    bodyLimit({
      maxSize: PAGE_BODY_LIMIT_BYTES,
      onError: (c) => c.html(page('Request too large', '<p>That request was too large.</p>'), 413, PAGE_HEADERS),
    }),
  )
  app.get('/verify', async (c) => {
    const token = (c.req.query('token') ?? '').slice(0, 512)
    if (token === '') return c.html(page('Link incomplete', '<p>This link has no token. Open the link from the mail exactly as it came.</p>'), 400, PAGE_HEADERS)
    const pending = await describeVerification(deps, token)
    if (!pending) return c.html(page('Link not valid', '<p>This link is invalid, expired or already used. Sign up again, or ask for a new link.</p>'), 400, PAGE_HEADERS)
    const form = [
      `<p>Press the button to confirm <strong>${escapeHtml(pending.email)}</strong> and create the namespace <strong>${escapeHtml(pending.namespace)}</strong>.</p>`,
      '<form method="post" action="/portal/verify">',
      `<input type="hidden" name="token" value="${escapeHtml(token)}">`,
      '<button type="submit">Confirm and create my namespace</button>',
      '</form>',
    ].join('\n')
    return c.html(page('Confirm your e-mail address', form), 200, PAGE_HEADERS)
  })
  app.post('/verify', async (c) => {
    try {
      limits.client(c, 'verify')
    } catch (error) {
      if (!(error instanceof AppError)) throw error
      return c.html(page('Too many attempts', `<p>${escapeHtml(error.detail)}.</p>`), 429, { ...PAGE_HEADERS, 'retry-after': c.res.headers.get('retry-after') ?? '60' })
    }
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>)
    const token = typeof form.token === 'string' ? form.token.slice(0, 512) : ''
    if (token === '') return c.html(page('Link incomplete', '<p>No token was sent. Open the link from the mail again.</p>'), 400, PAGE_HEADERS)
    try {
      const { view } = await verifyAndProvision(deps, c, token)
      const ns = escapeHtml(view.namespace)
      if (view.status === 'ready' && view.api_key) {
        const inner = [
          `<p>Your address is confirmed and your namespace <strong>${ns}</strong> is ready, with a <code>sandbox</code> channel to try things out.</p>`,
          '<p>Its API key, shown only this once — copy it now:</p>',
          `<p><code>${escapeHtml(view.api_key)}</code></p>`,
          '<p>You can log in with your e-mail address and the password you chose.</p>',
        ].join('\n')
        return c.html(page('Welcome to omnigate', inner), 200, PAGE_HEADERS)
      }
      if (view.status === 'failed') {
        return c.html(page('Something went wrong', `<p>Your address is confirmed, but the namespace <strong>${ns}</strong> could not be created (${escapeHtml(view.error ?? 'unknown error')}). Please contact the operator of this instance.</p>`), 200, PAGE_HEADERS)
      }
      const inner = `<p>Your address is confirmed; the namespace <strong>${ns}</strong> is being set up. Log in with your e-mail and password: its API key is shown once at <code>GET /v1/namespaces/${ns}/provisioning</code>.</p>`
      return c.html(page('Almost there', inner), 202, PAGE_HEADERS)
    } catch (error) {
      if (!(error instanceof AppError)) throw error
      return c.html(page('This did not work', `<p>${escapeHtml(error.detail)}</p>`), error.status as 400, PAGE_HEADERS)
    }
  })
  return app
}
