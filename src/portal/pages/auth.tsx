/**
 * Signing in and out, the account page (change password), password reset by e-mail and
 * accepting an invitation — each through the identity module's own functions, as the
 * /v1/auth routes do.
 */
import { Hono, type Context } from 'hono'
import type { Deps } from '../../domain/deps'
import { errors } from '../../domain/errors'
import { acceptInvitation } from '../../domain/identity/invitations'
import { loginLimiterOf } from '../../domain/identity/login-limiter'
import { login, revokeSession } from '../../domain/identity/sessions'
import { changePassword, confirmPasswordReset, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, requestPasswordReset } from '../../domain/identity/users'
import { requestClientIp } from '../../http/client-ip'
import { currentUser, landingNamespace, safeNext, signedIn } from '../access'
import { auditPortal } from '../audit'
import { Field, PostForm } from '../components'
import type { PortalEnv } from '../env'
import { emptyForm, fixedEntry, type FormState, formFailure, readForm } from '../forms'
import { render, renderAuth } from '../layout'
import { clearSessionCookie, setSessionCookie } from '../session'

const PASSWORD_HINT = `At least ${PASSWORD_MIN_LENGTH} characters.`
const MAX_TOKEN = 512
/** The API's limits (src/http/routes/auth.ts): nothing longer reaches the limiter's keys or argon2. */
const EMAIL_MAX_LENGTH = 254
const tooLong = (value: string | undefined, max: number) => (value ?? '').length > max ? `must be at most ${max} characters` : undefined

function LoginForm(props: { csrf: string; state: FormState; next: string | null; notice?: string }) {
  return (
    <>
      <h1>Sign in to omnigate</h1>
      {props.notice ? <p class="notice">{props.notice}</p> : null}
      <PostForm action={props.next ? `/portal/login?next=${encodeURIComponent(props.next)}` : '/portal/login'} csrf={props.csrf} state={props.state}>
        <Field name="email" label="Email" type="email" autocomplete="username" required state={props.state} />
        <Field name="password" label="Password" type="password" autocomplete="current-password" required state={props.state} />
        <button type="submit">Sign in</button>
      </PostForm>
      <p>
        <a href="/portal/reset">Forgot your password?</a>
      </p>
    </>
  )
}

const NOTICES: Record<string, string> = {
  'signed-out': 'You are signed out.',
  'password-set': 'Your new password is set: sign in with it.',
}

export function authPages(deps: Deps) {
  const limiter = loginLimiterOf(deps)
  const limit = (c: Context, keys: string[]) => {
    const verdict = limiter.take(keys)
    if (!verdict.ok) {
      c.header('Retry-After', String(verdict.retryAfterSeconds))
      throw errors.tooManyAttempts(`too many attempts; try again in ${verdict.retryAfterSeconds} s`)
    }
  }
  const loginFields = { fields: ['email', 'password'], secret: ['password'] }

  const app = new Hono<PortalEnv>()

  app.get('/login', async (c) => {
    const next = safeNext(c.req.query('next'))
    if (c.get('user')) return c.redirect(next ?? '/portal', 303)
    const notice = fixedEntry(NOTICES, c.req.query('notice'))
    return renderAuth(c, { title: 'Sign in' }, <LoginForm csrf={c.get('csrfToken')} state={emptyForm()} next={next} notice={notice} />)
  })

  app.post('/login', async (c) => {
    const values = await readForm(c)
    const next = safeNext(c.req.query('next'))
    const email = (values.email ?? '').trim()
    const state: FormState = { values: { email }, errors: {} }
    if (email === '') state.errors.email = 'is required'
    if (!values.password) state.errors.password = 'is required'
    const long = { email: tooLong(email, EMAIL_MAX_LENGTH), password: tooLong(values.password, PASSWORD_MAX_LENGTH) }
    for (const [field, message] of Object.entries(long)) if (message) state.errors[field] = message
    if (Object.keys(state.errors).length > 0) {
      return renderAuth(c, { title: 'Sign in', status: 422 }, <LoginForm csrf={c.get('csrfToken')} state={state} next={next} />)
    }
    try {
      const ip = requestClientIp(c, deps)
      limit(c, [`login:account:${email.trim().toLowerCase()}`, `login:ip:${ip}`])
      const session = await login(deps, { email, password: values.password!, ip, userAgent: c.req.header('user-agent') })
      setSessionCookie(c, deps, session)
      await auditPortal(deps, c, { resource: { type: 'user', id: session.userId }, userId: session.userId })
      return c.redirect(next ?? '/portal', 303)
    } catch (error) {
      const { state: failed, status } = formFailure(error, { email }, loginFields)
      return renderAuth(c, { title: 'Sign in', status: status as 401 }, <LoginForm csrf={c.get('csrfToken')} state={failed} next={next} />)
    }
  })

  app.post('/logout', async (c) => {
    const user = c.get('user')
    if (user) {
      await revokeSession(deps, user.sessionId)
      await auditPortal(deps, c, { resource: { type: 'user', id: user.userId } })
    }
    clearSessionCookie(c, deps)
    return c.redirect('/portal/login?notice=signed-out', 303)
  })

  // Where "/portal" leads: the user's first namespace.
  app.get('/', signedIn(), async (c) => {
    const slug = await landingNamespace(deps, currentUser(c))
    if (slug) return c.redirect(`/portal/ns/${encodeURIComponent(slug)}/dashboard`, 303)
    return render(
      c,
      { title: 'No namespace yet' },
      <section>
        <h1>No namespace yet</h1>
        <p>You are not a member of any namespace. Ask an owner of one to invite you, or an instance admin to create one.</p>
        <p>
          <a href="/portal/account">Your account</a>
        </p>
      </section>,
    )
  })

  // The namespace switcher: a GET form, so it works without script and from the keyboard.
  app.get('/switch', signedIn(), (c) => {
    const slug = (c.req.query('ns') ?? '').slice(0, 100)
    const section = /^[a-z]+$/.test(c.req.query('section') ?? '') ? c.req.query('section')! : 'dashboard'
    if (slug === '') return c.redirect('/portal', 303)
    return c.redirect(`/portal/ns/${encodeURIComponent(slug)}/${section}`, 303)
  })

  app.route('/account', accountPages(deps, limit))
  app.route('/reset', resetPages(deps, limit))
  app.route('/invite', invitePages(deps))
  return app
}

function PasswordForm(props: { csrf: string; state: FormState; done?: boolean }) {
  return (
    <section class="panel">
      <h2>Change password</h2>
      {props.done ? <p class="notice">Your password is changed. Your other sessions are signed out.</p> : null}
      <PostForm action="/portal/account/password" csrf={props.csrf} state={props.state}>
        <Field name="current_password" label="Current password" type="password" autocomplete="current-password" state={props.state} />
        <Field name="new_password" label="New password" type="password" autocomplete="new-password" hint={PASSWORD_HINT} state={props.state} />
        <Field name="repeat_password" label="Repeat new password" type="password" autocomplete="new-password" state={props.state} />
        <button type="submit">Change password</button>
      </PostForm>
    </section>
  )
}

function accountPages(deps: Deps, limit: (c: Context, keys: string[]) => void) {
  const page = (c: Context<PortalEnv>, state: FormState, status = 200, done = false) =>
    render(
      c,
      { title: 'Your account', status: status as 200 },
      <>
        <h1>Your account</h1>
        <p>
          Signed in as <strong>{currentUser(c).email}</strong>
          {currentUser(c).instanceAdmin ? ' (instance admin)' : ''}.
        </p>
        <PasswordForm csrf={c.get('csrfToken')} state={state} done={done} />
      </>,
    )
  const app = new Hono<PortalEnv>()
  app.use('*', signedIn())
  app.get('/', (c) => page(c, emptyForm(), 200, c.req.query('changed') === '1'))
  app.post('/password', async (c) => {
    const user = currentUser(c)
    const values = await readForm(c)
    const fields = { fields: ['current_password', 'new_password', 'repeat_password'], secret: ['current_password', 'new_password', 'repeat_password'] }
    if ((values.new_password ?? '') !== (values.repeat_password ?? '')) {
      return page(c, { values: {}, errors: { repeat_password: 'does not match the new password' } }, 422)
    }
    const long = tooLong(values.current_password, PASSWORD_MAX_LENGTH)
    if (long) return page(c, { values: {}, errors: { current_password: long } }, 422)
    try {
      limit(c, [`password:account:${user.userId}`])
      await changePassword(deps, user.userId, { current: values.current_password ?? '', next: values.new_password ?? '', keepSessionId: user.sessionId })
      await auditPortal(deps, c, { resource: { type: 'user', id: user.userId } })
      return c.redirect('/portal/account?changed=1', 303)
    } catch (error) {
      const { state, status } = formFailure(error, values, fields)
      return page(c, state, status)
    }
  })
  return app
}

function resetPages(deps: Deps, limit: (c: Context, keys: string[]) => void) {
  const requestForm = (c: Context<PortalEnv>, state: FormState, status = 200) =>
    renderAuth(
      c,
      { title: 'Reset your password', status: status as 200 },
      <>
        <h1>Reset your password</h1>
        <p>We will mail you a link to choose a new password.</p>
        <PostForm action="/portal/reset" csrf={c.get('csrfToken')} state={state}>
          <Field name="email" label="Email" type="email" autocomplete="username" state={state} />
          <button type="submit">Send reset link</button>
        </PostForm>
        <p>
          <a href="/portal/login">Back to sign in</a>
        </p>
      </>,
    )
  const confirmForm = (c: Context<PortalEnv>, token: string, state: FormState, status = 200) =>
    renderAuth(
      c,
      { title: 'Choose a new password', status: status as 200 },
      <>
        <h1>Choose a new password</h1>
        <PostForm action="/portal/reset/confirm" csrf={c.get('csrfToken')} state={state}>
          <input type="hidden" name="token" value={token} />
          <Field name="password" label="New password" type="password" autocomplete="new-password" hint={PASSWORD_HINT} state={state} />
          <Field name="repeat_password" label="Repeat new password" type="password" autocomplete="new-password" state={state} />
          <button type="submit">Set password</button>
        </PostForm>
      </>,
    )

  const app = new Hono<PortalEnv>()
  app.get('/', (c) => {
    const token = (c.req.query('token') ?? '').slice(0, MAX_TOKEN)
    // The link's token stays out of the Referer of anything this page loads (Referrer-Policy).
    return token ? confirmForm(c, token, emptyForm()) : requestForm(c, emptyForm())
  })
  app.post('/', async (c) => {
    const values = await readForm(c)
    const email = (values.email ?? '').trim()
    try {
      if (email === '') throw errors.validation('email is required', [{ field: 'email', message: 'is required' }])
      const long = tooLong(email, EMAIL_MAX_LENGTH)
      if (long) throw errors.validation(`email ${long}`, [{ field: 'email', message: long }])
      limit(c, [`reset:account:${email.trim().toLowerCase()}`, `reset:ip:${requestClientIp(c, deps)}`])
      await requestPasswordReset(deps, email)
    } catch (error) {
      const { state, status } = formFailure(error, { email }, { fields: ['email'] })
      return requestForm(c, state, status)
    }
    return renderAuth(
      c,
      { title: 'Check your mail' },
      <>
        <h1>Check your mail</h1>
        <p>If an account has this address, a link to choose a new password is on its way. It works for an hour.</p>
        <p>
          <a href="/portal/login">Back to sign in</a>
        </p>
      </>,
    )
  })
  app.post('/confirm', async (c) => {
    const values = await readForm(c)
    const token = (values.token ?? '').slice(0, MAX_TOKEN)
    if ((values.password ?? '') !== (values.repeat_password ?? '')) {
      return confirmForm(c, token, { values: {}, errors: { repeat_password: 'does not match the new password' } }, 422)
    }
    try {
      await confirmPasswordReset(deps, { token, password: values.password ?? '' })
      await auditPortal(deps, c, { resource: { type: 'user', id: null } })
      return c.redirect('/portal/login?notice=password-set', 303)
    } catch (error) {
      const { state, status } = formFailure(error, {}, { fields: ['password', 'repeat_password'] })
      return confirmForm(c, token, state, status)
    }
  })
  return app
}

function invitePages(deps: Deps) {
  const form = (c: Context<PortalEnv>, token: string, state: FormState, status = 200) =>
    renderAuth(
      c,
      { title: 'Accept the invitation', status: status as 200 },
      <>
        <h1>Accept the invitation</h1>
        <p>You were invited to a namespace on this omnigate. If the invited address has no account yet, choose a password for it.</p>
        <PostForm action="/portal/invite" csrf={c.get('csrfToken')} state={state}>
          <input type="hidden" name="token" value={token} />
          <Field name="display_name" label="Your name" autocomplete="name" state={state} />
          <Field name="password" label="Password" type="password" autocomplete="new-password" hint={`Only for a new account. ${PASSWORD_HINT}`} state={state} />
          <button type="submit">Accept invitation</button>
        </PostForm>
      </>,
    )
  const app = new Hono<PortalEnv>()
  app.get('/', (c) => {
    const token = (c.req.query('token') ?? '').slice(0, MAX_TOKEN)
    if (token === '') return renderAuth(c, { title: 'Link incomplete', status: 400 }, <p>This link has no token. Open the link from the mail exactly as it came.</p>)
    return form(c, token, emptyForm())
  })
  app.post('/', async (c) => {
    const values = await readForm(c)
    const token = (values.token ?? '').slice(0, MAX_TOKEN)
    try {
      const result = await acceptInvitation(deps, {
        token,
        password: values.password ? values.password : undefined,
        displayName: values.display_name?.trim() ? values.display_name.trim().slice(0, 200) : undefined,
      })
      await auditPortal(deps, c, { resource: { type: 'user', id: result.user.id }, userId: result.user.id, namespaceId: result.namespace.id })
      const signedInAs = c.get('user')?.userId === result.user.id
      return renderAuth(
        c,
        { title: 'Welcome' },
        <>
          <h1>Welcome to {result.namespace.name}</h1>
          <p>
            You are now a member of <strong>{result.namespace.slug}</strong> as {result.role}.
          </p>
          <p>{signedInAs ? <a href={`/portal/ns/${result.namespace.slug}/dashboard`}>Open {result.namespace.slug}</a> : <a href="/portal/login">Sign in</a>}</p>
        </>,
      )
    } catch (error) {
      const { state, status } = formFailure(error, { display_name: values.display_name ?? '' }, { fields: ['display_name', 'password'], secret: ['password'] })
      return form(c, token, state, status)
    }
  })
  return app
}
