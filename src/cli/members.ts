/**
 * `omnigate member list|add|remove`: people of a namespace. The CLI acts as an instance admin
 * (whoever runs it holds the database), so it may also make and remove owners — but never the
 * last one.
 */
import type { Command } from 'commander'
import type { Deps } from '../domain/deps'
import { errors } from '../domain/errors'
import { createInvitation, invitationView } from '../domain/identity/invitations'
import { addMember, checkRole, listMembers, type MemberActor, memberView, removeMember } from '../domain/identity/members'
import { findUserByEmail, getUser, hashPassword, checkPassword, insertUser, type User } from '../domain/identity/users'
import { getNamespace } from '../domain/namespaces'
import { now } from '../domain/deps'
import { readNewPassword } from './admin'
import { action, globals, printJson, printTable, withGateway } from './context'

const NS_OPTION = ['-n, --namespace <slug>', 'namespace slug or id', 'demo'] as const
const OPERATOR: MemberActor = { role: null, instanceAdmin: true }

async function userByRef(deps: Deps, ref: string): Promise<User> {
  if (ref.includes('@')) {
    const user = await findUserByEmail(deps, ref)
    if (!user) throw errors.userNotFound(`no user with the email ${ref}`)
    return user
  }
  return getUser(deps, ref)
}

export function registerMembers(program: Command): void {
  const member = program.command('member').description('members of a namespace and their roles')
  member
    .command('list')
    .description('list members')
    .option(...NS_OPTION)
    .action(
      action(async (opts: { namespace: string }, cmd: Command) => {
        const rows = await withGateway(cmd, async (deps) => listMembers(deps, (await getNamespace(deps, opts.namespace)).id))
        const views = rows.map(memberView)
        printTable(globals(cmd), views.map((v) => ({ email: v.email, role: v.role, name: v.display_name, user_id: v.user_id })), views)
      }),
    )
  member
    .command('add <email>')
    .description('add a person: mails an invitation when [mail] is set, else adds them directly (creating the account, password from stdin or a prompt)')
    .option(...NS_OPTION)
    .requiredOption('--role <role>', 'owner, admin, developer or viewer')
    .option('--no-invite', 'add an existing user directly even when [mail] is set')
    .action(
      action(async (email: string, opts: { namespace: string; role: string; invite: boolean }, cmd: Command) => {
        checkRole(opts.role, '--role')
        const json = globals(cmd).json
        await withGateway(cmd, async (deps) => {
          const namespace = await getNamespace(deps, opts.namespace)
          if (deps.mailer && opts.invite) {
            const invitation = await createInvitation(deps, namespace.id, { email, role: opts.role }, OPERATOR)
            if (json) printJson(invitationView(invitation))
            else console.log(`invited ${invitation.email} to ${namespace.slug} as ${invitation.role}; the link was mailed (valid until ${new Date(invitation.expiresAt).toISOString()})`)
            return
          }
          let user = await findUserByEmail(deps, email)
          const created = !user
          if (!user) {
            const password = await readNewPassword(`no account for ${email} yet; its password`)
            checkPassword(password)
            const passwordHash = await hashPassword(password)
            user = await deps.store.tx((tx) => insertUser(tx, { email, passwordHash }, now(deps)))
          }
          const added = await addMember(deps, namespace.id, { userId: user.id, role: opts.role }, OPERATOR)
          if (json) printJson({ ...memberView(added), user_created: created })
          else console.log(`${created ? 'created user and added' : 'added'} ${added.email} to ${namespace.slug} as ${added.role}`)
        })
      }),
    )
  member
    .command('remove <user>')
    .description('remove a member (by e-mail or user id)')
    .option(...NS_OPTION)
    .action(
      action(async (ref: string, opts: { namespace: string }, cmd: Command) => {
        const removed = await withGateway(cmd, async (deps) => {
          const namespace = await getNamespace(deps, opts.namespace)
          const user = await userByRef(deps, ref)
          await removeMember(deps, namespace.id, user.id, OPERATOR)
          return { user, namespace }
        })
        if (globals(cmd).json) printJson({ removed: true, email: removed.user.email, namespace: removed.namespace.slug })
        else console.log(`removed ${removed.user.email} from ${removed.namespace.slug}`)
      }),
    )
}
