/**
 * Members: who works in the namespace with which role — change a role, remove someone — and
 * invitations by e-mail (invite, list, withdraw). The same domain functions, scopes and owner
 * rules as `…/members` and `…/invitations` (src/http/routes/members.ts). The audit log is a
 * page of this section (audit.tsx).
 */
import { Hono, type Context } from 'hono'
import { z } from 'zod'
import { type Deps, now } from '../../domain/deps'
import { AppError } from '../../domain/errors'
import { createInvitation, invitationView, listInvitations, revokeInvitation } from '../../domain/identity/invitations'
import { actsAsOwner, listMembers, type Member, type MemberActor, removeMember, setMemberRole } from '../../domain/identity/members'
import { ROLES } from '../../domain/identity/roles'
import { can, currentUser, nsUrl, requirePortalScope } from '../access'
import { auditPortal } from '../audit'
import { ActionButton, EmptyState, Field, PostForm, Select, Time } from '../components'
import { CSRF_FIELD } from '../csrf'
import type { PortalEnv } from '../env'
import { emptyForm, fixedEntry, type FormState, formFailure, readForm } from '../forms'
import { render } from '../layout'
import { auditPages } from './audit'

const INVITE_FIELDS = ['email', 'role'] as const
/** The API's invitation body (members.ts). */
const inviteForm = z.strictObject({ email: z.string().trim().min(1, 'is required').max(254), role: z.enum(ROLES, { message: `must be one of ${ROLES.join(', ')}` }) })

/** The API's role change body (members.ts); the domain checks the role itself. */
const roleForm = z.strictObject({ role: z.string().max(20).default('') })

const NOTICES: Record<string, string> = {
  'role-changed': 'The role is changed.',
  removed: 'The member is removed.',
  invited: 'The invitation is mailed. It works for a week.',
  withdrawn: 'The invitation is withdrawn: its link no longer works.',
}

/** What a member change is asked by: the same as the API's `actorOf` for a signed-in user. */
function actorOf(c: Context<PortalEnv>): MemberActor {
  return { role: c.get('access').role, instanceAdmin: currentUser(c).instanceAdmin }
}

/** The roles this user may hand out here: owner only by an owner (or an instance admin). */
const grantableRoles = (c: Context<PortalEnv>) => ROLES.filter((r) => r !== 'owner' || actsAsOwner(actorOf(c)))

interface PageState {
  invite?: FormState
  /** A refused change of one member, shown in that member's row. */
  rowError?: { userId: string; message: string }
  status?: number
}

function MemberRow(props: { c: Context<PortalEnv>; m: Member; rowError?: string }) {
  const { c, m } = props
  const me = currentUser(c).userId === m.userId
  // An owner's row is for owners (and instance admins) only: the domain would refuse the rest.
  const controls = can(c, 'members:write') && (m.role !== 'owner' || actsAsOwner(actorOf(c)))
  const csrf = c.get('csrfToken')
  return (
    <tr>
      <td>
        {m.email}
        {me ? <span class="muted"> (you)</span> : null}
      </td>
      <td>{m.displayName || <span class="muted">—</span>}</td>
      <td>
        {controls ? (
          <form method="post" action={nsUrl(c, `/members/${m.userId}/role`)} class="row-form">
            <input type="hidden" name={CSRF_FIELD} value={csrf} />
            <select name="role" aria-label={`Role of ${m.email}`} aria-invalid={props.rowError ? 'true' : undefined} aria-describedby={props.rowError ? `row-error-${m.userId}` : undefined}>
              {grantableRoles(c).map((r) => (
                <option value={r} selected={r === m.role}>
                  {r}
                </option>
              ))}
            </select>
            <button type="submit" class="secondary" aria-label={`Change the role of ${m.email}`}>
              Change role
            </button>
          </form>
        ) : (
          <span class="badge">{m.role}</span>
        )}
        {props.rowError ? (
          <p class="field-error" id={`row-error-${m.userId}`} role="alert">
            {props.rowError}
          </p>
        ) : null}
      </td>
      <td>
        <Time at={m.createdAt} />
      </td>
      <td>
        {controls ? (
          <ActionButton action={nsUrl(c, `/members/${m.userId}/remove`)} csrf={csrf} label="Remove" class="danger" question={`Remove ${m.email} from this namespace?`} aria={`Remove ${m.email}`} />
        ) : null}
      </td>
    </tr>
  )
}

function Invitations(props: { c: Context<PortalEnv>; deps: Deps; rows: ReturnType<typeof invitationView>[]; emails: Map<string, string> }) {
  const { c, rows } = props
  const open = rows.filter((i) => i.status !== 'accepted')
  if (open.length === 0) return <EmptyState title="No pending invitations">{can(c, 'members:write') ? <p>Invite someone with the form below.</p> : null}</EmptyState>
  return (
    <div class="table-wrap">
      <table aria-label="Invitations">
        <thead>
          <tr>
            <th>Email</th>
            <th>Role</th>
            <th>Status</th>
            <th>Invited by</th>
            <th>Expires</th>
            <th>
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {open.map((i) => (
            <tr>
              <td>{i.email}</td>
              <td>{i.role}</td>
              <td>
                <span class={`badge status-${i.status}`}>{i.status}</span>
              </td>
              <td>{i.invited_by ? (props.emails.get(i.invited_by) ?? <code>{i.invited_by}</code>) : <span class="muted">—</span>}</td>
              <td>
                <Time at={i.expires_at} />
              </td>
              <td>
                {can(c, 'members:write') ? (
                  <ActionButton action={nsUrl(c, `/members/invitations/${i.id}/revoke`)} csrf={c.get('csrfToken')} label="Withdraw" class="danger" question={`Withdraw the invitation of ${i.email}?`} aria={`Withdraw the invitation of ${i.email}`} />
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

function InviteForm(props: { c: Context<PortalEnv>; deps: Deps; state: FormState }) {
  const { c, state } = props
  return (
    <PostForm action={nsUrl(c, '/members/invitations')} csrf={c.get('csrfToken')} state={state} class="panel" label="Invite someone">
      <h2>Invite someone</h2>
      {props.deps.mailer ? null : <p class="hint">This instance cannot send mail ([mail] smtp_url is not set): an operator can add existing users with omnigate member add.</p>}
      <Field name="email" label="Email" type="email" state={state} autocomplete="off" hint="They get a link that works for a week; an account is made for them if they have none." />
      <Select name="role" label="Role" state={state} value="viewer" options={grantableRoles(c)} />
      <button type="submit">Send invitation</button>
    </PostForm>
  )
}

export function membersPages(deps: Deps) {
  const page = async (c: Context<PortalEnv>, state: PageState = {}) => {
    const namespaceId = c.get('access').namespaceId
    const [members, invitations] = [await listMembers(deps, namespaceId), await listInvitations(deps, namespaceId)]
    const emails = new Map(members.map((m) => [m.userId, m.email]))
    const notice = fixedEntry(NOTICES, c.req.query('notice'))
    return render(
      c,
      { title: `Members · ${c.get('access').namespaceSlug}`, section: 'members', status: (state.status ?? 200) as 200 },
      <>
        <h1>Members</h1>
        {can(c, 'audit:read') ? (
          <p class="actions">
            <a class="button secondary" href={nsUrl(c, '/members/audit')}>
              Audit log
            </a>
          </p>
        ) : null}
        {notice ? (
          <p class="notice" role="status">
            {notice}
          </p>
        ) : null}
        {members.length === 0 ? (
          <EmptyState title="No members yet">{can(c, 'members:write') ? <p>Invite someone with the form below.</p> : null}</EmptyState>
        ) : (
          <div class="table-wrap">
            <table aria-label="Members">
              <thead>
                <tr>
                  <th>Email</th>
                  <th>Name</th>
                  <th>Role</th>
                  <th>Member since</th>
                  <th>
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {members.map((m) => (
                  <MemberRow c={c} m={m} rowError={state.rowError?.userId === m.userId ? state.rowError.message : undefined} />
                ))}
              </tbody>
            </table>
          </div>
        )}
        <h2>Invitations</h2>
        <Invitations c={c} deps={deps} rows={invitations.map((i) => invitationView(i, now(deps)))} emails={emails} />
        {can(c, 'members:write') ? <InviteForm c={c} deps={deps} state={state.invite ?? emptyForm({ role: 'viewer' })} /> : null}
      </>,
    )
  }
  /** A refused change: the page again, the reason in the member's row, with the error's status. */
  const refused = (c: Context<PortalEnv>, userId: string, error: unknown) => {
    // Someone who is no member here (another namespace's user id): the not-found page.
    if (error instanceof AppError && error.status === 404) throw error
    const { state, status } = formFailure(error, {}, { fields: [] })
    return page(c, { rowError: { userId, message: state.message ?? 'not allowed' }, status })
  }

  const app = new Hono<PortalEnv>()
  app.get('/', (c) => {
    requirePortalScope(c, 'members:read')
    return page(c)
  })

  app.post('/invitations', async (c) => {
    requirePortalScope(c, 'members:write')
    const values = await readForm(c)
    try {
      const input = inviteForm.parse({ ...values, email: values.email ?? '', role: values.role ?? '' })
      const invitation = await createInvitation(deps, c.get('access').namespaceId, { ...input, invitedBy: currentUser(c).userId }, actorOf(c))
      await auditPortal(deps, c, { resource: { type: 'invitation', id: invitation.id } })
      return c.redirect(nsUrl(c, '/members?notice=invited'), 303)
    } catch (error) {
      const { state, status } = formFailure(error, values, { fields: INVITE_FIELDS })
      return page(c, { invite: state, status })
    }
  })

  app.post('/invitations/:id/revoke', async (c) => {
    requirePortalScope(c, 'members:write')
    const id = c.req.param('id')
    await revokeInvitation(deps, c.get('access').namespaceId, id)
    await auditPortal(deps, c, { resource: { type: 'invitation', id } })
    return c.redirect(nsUrl(c, '/members?notice=withdrawn'), 303)
  })

  app.post('/:user/role', async (c) => {
    requirePortalScope(c, 'members:write')
    const userId = c.req.param('user')
    const values = await readForm(c)
    try {
      const { role } = roleForm.parse(values)
      await setMemberRole(deps, c.get('access').namespaceId, userId, role, actorOf(c))
    } catch (error) {
      return refused(c, userId, error)
    }
    await auditPortal(deps, c, { resource: { type: 'member', id: userId } })
    return c.redirect(nsUrl(c, '/members?notice=role-changed'), 303)
  })

  app.post('/:user/remove', async (c) => {
    requirePortalScope(c, 'members:write')
    const userId = c.req.param('user')
    try {
      await removeMember(deps, c.get('access').namespaceId, userId, actorOf(c))
    } catch (error) {
      return refused(c, userId, error)
    }
    await auditPortal(deps, c, { resource: { type: 'member', id: userId } })
    // Whoever removed themselves has no namespace page to go back to.
    if (userId === currentUser(c).userId && !currentUser(c).instanceAdmin) return c.redirect('/portal', 303)
    return c.redirect(nsUrl(c, '/members?notice=removed'), 303)
  })

  app.route('/audit', auditPages(deps))
  return app
}
