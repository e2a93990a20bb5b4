/** /v1/namespaces/{ns}/members and /invitations: who may work in a namespace, with which role. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { type Deps, now } from '../../domain/deps'
import { createInvitation, invitationView, listInvitations, revokeInvitation } from '../../domain/identity/invitations'
import { listMembers, type MemberActor, memberView, removeMember, setMemberRole } from '../../domain/identity/members'
import { ROLES } from '../../domain/identity/roles'
import { errors } from '../../domain/errors'
import type { AppEnv } from '../env'
import { scoped } from '../middleware/auth'
import { bodyProblems, commonProblems, conflictProblem, json, listOf, nsParams, problem } from '../schemas'

const memberSchema = z
  .object({ user_id: z.string(), email: z.string(), display_name: z.string(), role: z.enum(ROLES), created_at: z.string() })
  .openapi('Member')
const invitationSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    role: z.enum(ROLES),
    status: z.enum(['pending', 'accepted', 'expired']),
    invited_by: z.string().nullable(),
    expires_at: z.string(),
    accepted_at: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi('Invitation')

const memberParams = nsParams.extend({ user_id: z.string().openapi({ description: 'User id' }) })
const invitationParams = nsParams.extend({ invitation_id: z.string().openapi({ description: 'Invitation id' }) })
const body = <T extends z.ZodType>(schema: T) => ({ required: true, content: { 'application/json': { schema } } })
const tags = ['members']
const read = scoped('members:read')
const write = scoped('members:write')
const ownerProblems = { 403: problem('Missing scope, or only an owner may do this to an owner'), 409: problem('The last owner stays') }

const routes = {
  list: createRoute({ method: 'get', path: '/members', tags, ...read, summary: 'List members', request: { params: nsParams }, responses: { 200: json(listOf(memberSchema), 'Members'), ...commonProblems } }),
  update: createRoute({ method: 'patch', path: '/members/{user_id}', tags, ...write, summary: "Change a member's role", request: { params: memberParams, body: body(z.strictObject({ role: z.enum(ROLES) })) }, responses: { 200: json(memberSchema, 'Updated'), ...commonProblems, ...bodyProblems, ...ownerProblems } }),
  remove: createRoute({ method: 'delete', path: '/members/{user_id}', tags, ...write, summary: 'Remove a member', request: { params: memberParams }, responses: { 204: { description: 'Removed' }, ...commonProblems, ...ownerProblems } }),
  invite: createRoute({ method: 'post', path: '/invitations', tags, ...write, summary: 'Invite someone by e-mail (the link is mailed, never returned)', request: { params: nsParams, body: body(z.strictObject({ email: z.string().min(1).max(254), role: z.enum(ROLES) })) }, responses: { 201: json(invitationSchema, 'Invited'), ...commonProblems, ...bodyProblems, ...conflictProblem, 502: problem('The mail server refused the mail'), 503: problem('The instance has no [mail] settings') } }),
  invitations: createRoute({ method: 'get', path: '/invitations', tags, ...read, summary: 'List invitations', request: { params: nsParams }, responses: { 200: json(listOf(invitationSchema), 'Invitations'), ...commonProblems } }),
  revoke: createRoute({ method: 'delete', path: '/invitations/{invitation_id}', tags, ...write, summary: 'Withdraw an invitation', request: { params: invitationParams }, responses: { 204: { description: 'Withdrawn' }, ...commonProblems } }),
}

/**
 * An application credential may manage viewers and developers, never hand out admin or owner:
 * a leaked key must not be able to mint a human admin that outlives the key's revocation.
 */
function checkGrant(c: Context<AppEnv>, role: string): void {
  if (c.get('principal').kind === 'application' && (role === 'admin' || role === 'owner')) {
    throw errors.userRequired(`only a signed-in person can make someone ${role}; application credentials cannot`)
  }
}

function actorOf(c: Context<AppEnv>): MemberActor {
  const principal = c.get('principal')
  return { role: c.get('access').role, instanceAdmin: principal.kind === 'user' && principal.instanceAdmin }
}

export function membersRoutes(deps: Deps) {
  return new OpenAPIHono<AppEnv>()
    .openapi(routes.list, async (c) => c.json({ data: (await listMembers(deps, c.get('namespaceId'))).map(memberView), next_cursor: null } as never, 200))
    .openapi(routes.update, async (c) => {
      checkGrant(c, c.req.valid('json').role)
      const member = await setMemberRole(deps, c.get('namespaceId'), c.req.valid('param').user_id, c.req.valid('json').role, actorOf(c))
      return c.json(memberView(member) as never, 200)
    })
    .openapi(routes.remove, async (c) => {
      await removeMember(deps, c.get('namespaceId'), c.req.valid('param').user_id, actorOf(c))
      return c.body(null, 204)
    })
    .openapi(routes.invite, async (c) => {
      const principal = c.get('principal')
      checkGrant(c, c.req.valid('json').role)
      const invitedBy = principal.kind === 'user' ? principal.userId : principal.applicationId
      const invitation = await createInvitation(deps, c.get('namespaceId'), { ...c.req.valid('json'), invitedBy }, actorOf(c))
      return c.json(invitationView(invitation, now(deps)) as never, 201)
    })
    .openapi(routes.invitations, async (c) =>
      c.json({ data: (await listInvitations(deps, c.get('namespaceId'))).map((i) => invitationView(i, now(deps))), next_cursor: null } as never, 200),
    )
    .openapi(routes.revoke, async (c) => {
      await revokeInvitation(deps, c.get('namespaceId'), c.req.valid('param').invitation_id)
      return c.body(null, 204)
    })
}
