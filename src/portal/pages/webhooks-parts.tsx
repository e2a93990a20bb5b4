/**
 * Pieces the webhook pages share: the answer page that shows a signing secret once, the
 * channel choices of the filter, and how an event filter reads.
 */
import type { Context } from 'hono'
import { listChannels } from '../../domain/channels'
import type { Deps } from '../../domain/deps'
import type { Webhook } from '../../domain/webhooks/endpoints'
import { can, nsUrl } from '../access'
import type { PortalEnv } from '../env'

/** The namespace's channels for the channel filter, or null when the user may not list them. */
export async function channelChoices(deps: Deps, c: Context<PortalEnv>) {
  if (!can(c, 'channels:read')) return null
  return (await listChannels(deps, c.get('access').namespaceId)).map((ch) => ({ id: ch.id, name: ch.name })).sort((a, b) => a.name.localeCompare(b.name))
}

export const eventsText = (types: string[]) => (types.includes('*') ? 'every event' : types.join(', '))

/**
 * The answer page of a create or a rotation: the secret, once, with a copy button. The address
 * bar is set to the endpoint's own page (portal.client.js, `data-replace-url`), so a reload
 * asks for that page, which never shows the secret, instead of posting the form again.
 */
export function SecretOnce(props: { c: Context<PortalEnv>; hook: Webhook; secret: string; heading: string; note?: string }) {
  const { c, hook } = props
  const page = nsUrl(c, `/webhooks/${hook.id}`)
  return (
    <div data-replace-url={page}>
      <h1>{props.heading}</h1>
      <section class="panel secret-once">
        <p class="notice" role="status">
          Copy the signing secret now: it is shown only this once. Your receiver verifies each delivery's <code>webhook-signature</code> with it.
        </p>
        <p class="copy-line">
          <code id="webhook-secret">{props.secret}</code>{' '}
          <button type="button" data-copy="webhook-secret">
            Copy
          </button>
        </p>
        {props.note ? <p>{props.note}</p> : null}
        <p>
          Endpoint: <span class="mono">{hook.url}</span>
        </p>
        <p>
          <a class="button secondary" href={page}>
            Done: go to the webhook
          </a>
        </p>
      </section>
    </div>
  )
}
