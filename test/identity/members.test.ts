/**
 * People in namespaces: what each role may do, the owner rules, invitations mailed through a
 * real SMTP server and accepted once, and the instance admin's view of every namespace.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { simpleParser } from 'mailparser'
import type { Deps } from '../../src/domain/deps'
import { insertMembership } from '../../src/domain/identity/members'
import type { Role } from '../../src/domain/identity/roles'
import { hashPassword, insertUser, setPasswordHashCost } from '../../src/domain/identity/users'
import { startSmtpSink, type SmtpSink } from '../fakes/smtp-server'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

// Cheap argon2 parameters: the tests log in dozens of times.
setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })

const PASSWORD = 'members test password'
type Problem = { code: string; detail: string; errors?: { field: string }[] }

let sink: SmtpSink
let gw: TestGateway
let acme: Awaited<ReturnType<TestGateway['tenant']>>
let umbrella: Awaited<ReturnType<TestGateway['tenant']>>
const ids: Record<string, string> = {}
const tokens: Record<string, string> = {}

async function person(deps: Deps, name: string, opts: { role?: Role; namespaceId?: string; instanceAdmin?: boolean } = {}) {
  const passwordHash = await hashPassword(PASSWORD)
  const user = await deps.store.tx(async (tx) => {
    const row = await insertUser(tx, { email: `${name}@example.com`, displayName: name, passwordHash, instanceAdmin: opts.instanceAdmin }, Date.now())
    if (opts.role) await insertMembership(tx, opts.namespaceId!, row.id, opts.role, Date.now())
    return row
  })
  ids[name] = user.id
  return user
}

async function loginAs(name: string): Promise<string> {
  const res = await gw.call('POST', '/v1/auth/login', null, { email: `${name}@example.com`, password: PASSWORD })
  expect(res.status).toBe(200)
  return ((await res.json()) as { access_token: string }).access_token
}

/** The token of the invitation link in the latest mail to `email`. */
async function invitationLink(email: string, after: number): Promise<string> {
  const wire = await eventually(async () => sink.received.slice(after).find((m) => m.rcptTo.includes(email)))
  const mail = await simpleParser(wire.raw)
  expect(mail.subject).toContain('Invitation')
  const match = (mail.text ?? '').match(/(\S+)\/portal\/invite\?token=([\w-]+)/)!
  expect(match[1]).toBe(gw.deps.publicUrl)
  return match[2]!
}

beforeAll(async () => {
  sink = await startSmtpSink()
  gw = await startTestGateway({
    limits: { login_attempts_per_minute: 1000 },
    mail: { smtp_url: `smtp://127.0.0.1:${sink.port}`, from: 'omnigate <noreply@gw.test>' },
  })
  acme = await gw.tenant('acme')
  umbrella = await gw.tenant('umbrella')
  await gw.channel(acme.namespaceId, 'alerts')
  await person(gw.deps, 'olivia', { role: 'owner', namespaceId: acme.namespaceId })
  await person(gw.deps, 'adam', { role: 'admin', namespaceId: acme.namespaceId })
  await person(gw.deps, 'dev', { role: 'developer', namespaceId: acme.namespaceId })
  await person(gw.deps, 'vera', { role: 'viewer', namespaceId: acme.namespaceId })
  await person(gw.deps, 'nora')
  await person(gw.deps, 'root', { instanceAdmin: true })
  for (const name of Object.keys(ids)) tokens[name] = await loginAs(name)
})
afterAll(async () => {
  await gw.close()
  await sink.stop()
})

const send = (token: string, ns = 'acme') => gw.call('POST', `/v1/namespaces/${ns}/messages`, token, { channel: 'alerts', to: 'someone', content: { text: 'hi' } })

describe('roles grant scopes', () => {
  test('a viewer reads messages but cannot send: 403 naming messages:send', async () => {
    expect((await gw.call('GET', '/v1/namespaces/acme/messages', tokens.vera!)).status).toBe(200)
    const res = await send(tokens.vera!)
    expect(res.status).toBe(403)
    const problem = (await res.json()) as Problem
    expect(problem.code).toBe('insufficient_scope')
    expect(problem.detail).toContain('messages:send')
  })

  test('a developer sends', async () => {
    expect((await send(tokens.dev!)).status).toBe(202)
  })

  test('a user with no membership gets 404 namespace_not_found, as for a namespace that does not exist', async () => {
    for (const path of ['/v1/namespaces/acme/messages', '/v1/namespaces/acme/members', '/v1/namespaces/no-such/messages']) {
      const res = await gw.call('GET', path, tokens.nora!)
      expect(res.status).toBe(404)
      expect(((await res.json()) as Problem).code).toBe('namespace_not_found')
    }
    // Members of acme are nobody in umbrella either.
    expect((await gw.call('GET', '/v1/namespaces/umbrella/messages', tokens.olivia!)).status).toBe(404)
  })

  test('GET /v1/auth/me lists the namespaces with the role in each', async () => {
    const me = (await (await gw.call('GET', '/v1/auth/me', tokens.dev!)).json()) as { namespaces: { slug: string; role: string }[] }
    expect(me.namespaces).toEqual([expect.objectContaining({ slug: 'acme', role: 'developer' })])
  })
})

describe('namespaces and the instance admin', () => {
  test('the instance admin sees every namespace and works in any', async () => {
    const res = await gw.call('GET', '/v1/namespaces', tokens.root!)
    expect(res.status).toBe(200)
    const slugs = ((await res.json()) as { data: { slug: string }[] }).data.map((n) => n.slug)
    expect(slugs).toEqual(expect.arrayContaining(['acme', 'umbrella']))
    expect((await gw.call('GET', '/v1/namespaces/umbrella/channels', tokens.root!)).status).toBe(200)
    expect((await send(tokens.root!)).status).toBe(202)
  })

  test('a user sees only their namespaces, with their role; an application only its own', async () => {
    const mine = (await (await gw.call('GET', '/v1/namespaces', tokens.vera!)).json()) as { data: { slug: string; role: string }[] }
    expect(mine.data.map((n) => [n.slug, n.role])).toEqual([['acme', 'viewer']])
    expect(((await (await gw.call('GET', '/v1/namespaces', tokens.nora!)).json()) as { data: unknown[] }).data).toEqual([])
    const app = (await (await gw.call('GET', '/v1/namespaces', umbrella.key)).json()) as { data: { slug: string; role: null }[] }
    expect(app.data.map((n) => n.slug)).toEqual(['umbrella'])
  })

  test('only an instance admin creates a namespace', async () => {
    for (const credential of [tokens.olivia!, acme.key]) {
      const res = await gw.call('POST', '/v1/namespaces', credential, { slug: 'initech' })
      expect(res.status).toBe(403)
      expect(((await res.json()) as Problem).code).toBe('instance_admin_required')
    }
    expect((await gw.call('POST', '/v1/namespaces', null, { slug: 'initech' })).status).toBe(401)
    const created = await gw.call('POST', '/v1/namespaces', tokens.root!, { slug: 'initech', name: 'Initech' })
    expect(created.status).toBe(201)
    expect(await created.json()).toMatchObject({ slug: 'initech', name: 'Initech', status: 'active' })
    expect((await gw.call('POST', '/v1/namespaces', tokens.root!, { slug: 'initech' })).status).toBe(409)
    const bad = await gw.call('POST', '/v1/namespaces', tokens.root!, { slug: 'Not A Slug' })
    expect(bad.status).toBe(422)
    expect(((await bad.json()) as Problem).errors![0]!.field).toBe('slug')
    const unknown = await gw.call('POST', '/v1/namespaces', tokens.root!, { slug: 'x', owner: 'me' })
    expect(unknown.status).toBe(422)
  })
})

describe('members', () => {
  test('a viewer lists members but cannot change them', async () => {
    const res = await gw.call('GET', '/v1/namespaces/acme/members', tokens.vera!)
    const members = ((await res.json()) as { data: { email: string; role: string }[] }).data
    expect(members.map((m) => [m.email, m.role])).toEqual(
      expect.arrayContaining([['olivia@example.com', 'owner'], ['adam@example.com', 'admin'], ['dev@example.com', 'developer'], ['vera@example.com', 'viewer']]),
    )
    const patch = await gw.call('PATCH', `/v1/namespaces/acme/members/${ids.dev}`, tokens.vera!, { role: 'viewer' })
    expect(patch.status).toBe(403)
    expect(((await patch.json()) as Problem).detail).toContain('members:write')
  })

  test('an admin changes roles, but cannot touch an owner or make one', async () => {
    const demoteOwner = await gw.call('PATCH', `/v1/namespaces/acme/members/${ids.olivia}`, tokens.adam!, { role: 'viewer' })
    expect(demoteOwner.status).toBe(403)
    expect(((await demoteOwner.json()) as Problem).code).toBe('owner_required')
    expect((await gw.call('PATCH', `/v1/namespaces/acme/members/${ids.dev}`, tokens.adam!, { role: 'owner' })).status).toBe(403)
    expect((await gw.call('DELETE', `/v1/namespaces/acme/members/${ids.olivia}`, tokens.adam!)).status).toBe(403)

    const ok = await gw.call('PATCH', `/v1/namespaces/acme/members/${ids.dev}`, tokens.adam!, { role: 'viewer' })
    expect(ok.status).toBe(200)
    expect(await ok.json()).toMatchObject({ user_id: ids.dev, role: 'viewer' })
    // The new role bites on the next request.
    expect((await send(tokens.dev!)).status).toBe(403)
    expect((await gw.call('PATCH', `/v1/namespaces/acme/members/${ids.dev}`, tokens.adam!, { role: 'developer' })).status).toBe(200)
    expect((await send(tokens.dev!)).status).toBe(202)
  })

  test('the last owner can be neither demoted nor removed; with a second owner, either can go', async () => {
    const demote = await gw.call('PATCH', `/v1/namespaces/acme/members/${ids.olivia}`, tokens.olivia!, { role: 'admin' })
    expect(demote.status).toBe(409)
    expect(((await demote.json()) as Problem).code).toBe('last_owner')
    expect((await gw.call('DELETE', `/v1/namespaces/acme/members/${ids.olivia}`, tokens.root!)).status).toBe(409)

    expect((await gw.call('PATCH', `/v1/namespaces/acme/members/${ids.adam}`, tokens.olivia!, { role: 'owner' })).status).toBe(200)
    expect((await gw.call('PATCH', `/v1/namespaces/acme/members/${ids.olivia}`, tokens.adam!, { role: 'admin' })).status).toBe(200)
    expect((await gw.call('PATCH', `/v1/namespaces/acme/members/${ids.olivia}`, tokens.adam!, { role: 'owner' })).status).toBe(200)
    expect((await gw.call('PATCH', `/v1/namespaces/acme/members/${ids.adam}`, tokens.olivia!, { role: 'admin' })).status).toBe(200)
  })

  test('a removed member loses the namespace at once', async () => {
    const temp = await person(gw.deps, 'temp', { role: 'developer', namespaceId: acme.namespaceId })
    const token = await loginAs('temp')
    expect((await gw.call('GET', '/v1/namespaces/acme/messages', token)).status).toBe(200)
    expect((await gw.call('DELETE', `/v1/namespaces/acme/members/${temp.id}`, tokens.adam!)).status).toBe(204)
    const res = await gw.call('GET', '/v1/namespaces/acme/messages', token)
    expect(res.status).toBe(404)
    expect((await gw.call('DELETE', `/v1/namespaces/acme/members/${temp.id}`, tokens.adam!)).status).toBe(404)
  })

  test('unknown members are 404 member_not_found; unknown roles 422 naming role', async () => {
    const missing = await gw.call('PATCH', '/v1/namespaces/acme/members/usr_nobody', tokens.olivia!, { role: 'viewer' })
    expect(missing.status).toBe(404)
    expect(((await missing.json()) as Problem).code).toBe('member_not_found')
    // A member of another namespace is not a member here.
    expect((await gw.call('DELETE', `/v1/namespaces/umbrella/members/${ids.vera}`, tokens.root!)).status).toBe(404)
    const bad = await gw.call('PATCH', `/v1/namespaces/acme/members/${ids.vera}`, tokens.olivia!, { role: 'god' })
    expect(bad.status).toBe(422)
    expect(((await bad.json()) as Problem).errors![0]!.field).toBe('role')
  })
})

describe('invitations', () => {
  test('an invitation is mailed; its link creates the account, works once, and the new member has the invited role', async () => {
    const before = sink.received.length
    const res = await gw.call('POST', '/v1/namespaces/acme/invitations', tokens.adam!, { email: 'New.Hire@Example.com', role: 'developer' })
    expect(res.status).toBe(201)
    const invitation = (await res.json()) as { id: string; email: string; status: string; invited_by: string }
    expect(invitation).toMatchObject({ email: 'new.hire@example.com', status: 'pending', invited_by: ids.adam })
    expect(JSON.stringify(invitation)).not.toContain('token')
    const token = await invitationLink('new.hire@example.com', before)

    const noPassword = await gw.call('POST', '/v1/auth/invitations/accept', null, { token })
    expect(noPassword.status).toBe(422)
    expect(((await noPassword.json()) as Problem).errors![0]!.field).toBe('password')

    const accepted = await gw.call('POST', '/v1/auth/invitations/accept', null, { token, password: 'my own new password', display_name: 'New Hire' })
    expect(accepted.status).toBe(200)
    expect(await accepted.json()).toMatchObject({ namespace: { slug: 'acme' }, role: 'developer', user_created: true, user: { email: 'new.hire@example.com', verified: true } })

    const again = await gw.call('POST', '/v1/auth/invitations/accept', null, { token, password: 'another password here' })
    expect(again.status).toBe(400)
    expect(((await again.json()) as Problem).code).toBe('invalid_token')

    const login = await gw.call('POST', '/v1/auth/login', null, { email: 'new.hire@example.com', password: 'my own new password' })
    const { access_token } = (await login.json()) as { access_token: string }
    expect((await send(access_token)).status).toBe(202)
    const list = (await (await gw.call('GET', '/v1/namespaces/acme/invitations', tokens.vera!)).json()) as { data: { id: string; status: string }[] }
    expect(list.data.find((i) => i.id === invitation.id)!.status).toBe('accepted')
  })

  test('an existing account accepts without a password and keeps its own', async () => {
    const before = sink.received.length
    expect((await gw.call('POST', '/v1/namespaces/acme/invitations', tokens.olivia!, { email: 'nora@example.com', role: 'viewer' })).status).toBe(201)
    const token = await invitationLink('nora@example.com', before)
    const accepted = await gw.call('POST', '/v1/auth/invitations/accept', null, { token, password: 'attempt to override it' })
    expect(accepted.status).toBe(200)
    expect(await accepted.json()).toMatchObject({ role: 'viewer', user_created: false, user: { id: ids.nora } })
    expect((await gw.call('POST', '/v1/auth/login', null, { email: 'nora@example.com', password: PASSWORD })).status).toBe(200)
    expect((await gw.call('GET', '/v1/namespaces/acme/messages', tokens.nora!)).status).toBe(200)
  })

  test('a member cannot be invited again; only an owner invites an owner', async () => {
    const member = await gw.call('POST', '/v1/namespaces/acme/invitations', tokens.adam!, { email: 'vera@example.com', role: 'admin' })
    expect(member.status).toBe(409)
    expect(((await member.json()) as Problem).code).toBe('already_member')
    const owner = await gw.call('POST', '/v1/namespaces/acme/invitations', tokens.adam!, { email: 'boss@example.com', role: 'owner' })
    expect(owner.status).toBe(403)
    expect(((await owner.json()) as Problem).code).toBe('owner_required')
    const bad = await gw.call('POST', '/v1/namespaces/acme/invitations', tokens.adam!, { email: 'not an address', role: 'viewer' })
    expect(((await bad.json()) as Problem).errors![0]!.field).toBe('email')
  })

  test('a withdrawn or replaced invitation link stops working', async () => {
    let before = sink.received.length
    const first = (await (await gw.call('POST', '/v1/namespaces/acme/invitations', tokens.adam!, { email: 'maybe@example.com', role: 'viewer' })).json()) as { id: string }
    const firstToken = await invitationLink('maybe@example.com', before)
    before = sink.received.length
    expect((await gw.call('POST', '/v1/namespaces/acme/invitations', tokens.adam!, { email: 'maybe@example.com', role: 'developer' })).status).toBe(201)
    const secondToken = await invitationLink('maybe@example.com', before)
    expect((await gw.call('POST', '/v1/auth/invitations/accept', null, { token: firstToken, password: 'long enough password' })).status).toBe(400)
    expect((await gw.call('DELETE', `/v1/namespaces/acme/invitations/${first.id}`, tokens.adam!)).status).toBe(404)

    const list = (await (await gw.call('GET', '/v1/namespaces/acme/invitations', tokens.adam!)).json()) as { data: { id: string; email: string; role: string }[] }
    const current = list.data.find((i) => i.email === 'maybe@example.com')!
    expect(current.role).toBe('developer')
    const withdrawn = await gw.call('DELETE', `/v1/namespaces/acme/invitations/${current.id}`, tokens.adam!)
    expect(withdrawn.status).toBe(204)
    const late = await gw.call('POST', '/v1/auth/invitations/accept', null, { token: secondToken, password: 'long enough password' })
    expect(late.status).toBe(400)
    // Another namespace's credential cannot withdraw acme's invitations (and learns nothing).
    expect((await gw.call('DELETE', `/v1/namespaces/umbrella/invitations/${current.id}`, umbrella.key)).status).toBe(404)
  })

  test('without [mail], inviting answers 503 mail_not_configured', async () => {
    const bare = await startTestGateway()
    try {
      const t = await bare.tenant('solo')
      const res = await bare.call('POST', '/v1/namespaces/solo/invitations', t.key, { email: 'x@example.com', role: 'viewer' })
      expect(res.status).toBe(503)
      expect(((await res.json()) as Problem).code).toBe('mail_not_configured')
    } finally {
      await bare.close()
    }
  })

  test('a mail server that refuses the mail: 502 mail_failed, and nothing is kept', async () => {
    const refusing = await startSmtpSink({ rcpt: () => [550, '5.1.1 no such user'] })
    const other = await startTestGateway({ mail: { smtp_url: `smtp://127.0.0.1:${refusing.port}`, from: 'noreply@gw.test' } })
    try {
      const t = await other.tenant('solo')
      const res = await other.call('POST', '/v1/namespaces/solo/invitations', t.key, { email: 'x@example.com', role: 'viewer' })
      expect(res.status).toBe(502)
      expect(((await res.json()) as Problem).code).toBe('mail_failed')
      const list = (await (await other.call('GET', '/v1/namespaces/solo/invitations', t.key)).json()) as { data: unknown[] }
      expect(list.data).toEqual([])
    } finally {
      await other.close()
      await refusing.stop()
    }
  })
})
