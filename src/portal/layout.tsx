/**
 * The portal's page frame: the document head (stylesheet, htmx, the portal script, the CSRF
 * token for htmx), the header with the namespace switcher and the user's menu, and the
 * navigation. Pages call `render(c, …)`; sign-in pages use `renderAuth(c, …)`.
 */
import type { Context } from 'hono'
import type { Child } from 'hono/jsx'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { assetUrl } from './assets'
import { ActionButton } from './components'
import type { PortalEnv } from './env'

/** The sections of a namespace, in navigation order; the link names are part of the interface. */
export const SECTIONS = [
  { id: 'dashboard', label: 'Dashboard', path: '/dashboard' },
  { id: 'messages', label: 'Messages', path: '/messages' },
  { id: 'channels', label: 'Channels', path: '/channels' },
  { id: 'webhooks', label: 'Webhooks', path: '/webhooks' },
  { id: 'applications', label: 'Applications', path: '/applications' },
  { id: 'members', label: 'Members', path: '/members' },
] as const

export type SectionId = (typeof SECTIONS)[number]['id']

/** The instance admin's pages (src/portal/pages/admin*.tsx): a nav entry only instance admins see. */
export const ADMIN_SECTION = { id: 'admin', label: 'Admin', path: '/portal/admin' } as const
type PageSection = SectionId | typeof ADMIN_SECTION.id

export interface PageOptions {
  title: string
  /** The navigation entry to mark as current. */
  section?: PageSection
  status?: ContentfulStatusCode
  /** Load uPlot (pages with charts). */
  charts?: boolean
}

// htmx reads its settings from this tag: no injected <style> (the CSP forbids inline styles).
const HTMX_CONFIG = '{"includeIndicatorCSS":false,"defaultTimeout":30000}'

function Document(props: { c: Context<PortalEnv>; title: string; bodyClass?: string; charts?: boolean; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <meta name="csrf-token" content={props.c.get('csrfToken')} />
        <meta name="htmx-config" content={HTMX_CONFIG} />
        <title>{`${props.title} · omnigate`}</title>
        {/* No favicon request (it would 404 outside /portal). */}
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href={assetUrl('portal.css')} />
        {props.charts ? <link rel="stylesheet" href={assetUrl('uplot.css')} /> : null}
        <script src={assetUrl('htmx.js')} defer></script>
        {props.charts ? <script src={assetUrl('uplot.js')} defer></script> : null}
        <script src={assetUrl('portal.js')} defer></script>
      </head>
      <body class={props.bodyClass}>
        <a class="skip" href="#main">
          Skip to content
        </a>
        {props.children}
      </body>
    </html>
  )
}

function Switcher(props: { c: Context<PortalEnv>; section?: PageSection }) {
  const list = props.c.get('namespaces') ?? []
  const current = props.c.get('access')?.namespaceSlug
  if (list.length === 0) return null
  return (
    <form class="switcher" method="get" action="/portal/switch">
      <label for="ns-switch">Namespace</label>
      <select id="ns-switch" name="ns">
        {list.map((ns) => (
          <option value={ns.slug} selected={ns.slug === current}>
            {ns.role ? `${ns.slug} (${ns.role})` : ns.slug}
          </option>
        ))}
      </select>
      {props.section && props.section !== ADMIN_SECTION.id ? <input type="hidden" name="section" value={props.section} /> : null}
      <button type="submit" class="secondary">
        Switch
      </button>
    </form>
  )
}

function Header(props: { c: Context<PortalEnv>; section?: PageSection }) {
  const user = props.c.get('user')
  return (
    <header class="topbar">
      <a class="brand" href="/portal">
        omnigate
      </a>
      <Switcher c={props.c} section={props.section} />
      {user ? (
        <div class="user">
          <a href="/portal/account">{user.email}</a>
          <ActionButton action="/portal/logout" csrf={props.c.get('csrfToken')} label="Sign out" class="secondary" />
        </div>
      ) : null}
    </header>
  )
}

function Nav(props: { c: Context<PortalEnv>; section?: PageSection }) {
  const access = props.c.get('access')
  const admin = props.c.get('user')?.instanceAdmin === true
  if (!access && !(admin && props.section === ADMIN_SECTION.id)) return null
  const base = access ? `/portal/ns/${encodeURIComponent(access.namespaceSlug)}` : null
  return (
    <nav class="nav" aria-label="Sections">
      <ul>
        {base
          ? SECTIONS.map((s) => (
              <li>
                <a href={base + s.path} aria-current={s.id === props.section ? 'page' : undefined}>
                  {s.label}
                </a>
              </li>
            ))
          : null}
        {admin ? (
          <li>
            <a href={ADMIN_SECTION.path} aria-current={props.section === ADMIN_SECTION.id ? 'page' : undefined}>
              {ADMIN_SECTION.label}
            </a>
          </li>
        ) : null}
      </ul>
    </nav>
  )
}

/** Renders a page inside the frame (header, switcher, navigation when in a namespace). */
export async function render(c: Context<PortalEnv>, opts: PageOptions, content: Child): Promise<Response> {
  const page = (
    <Document c={c} title={opts.title} charts={opts.charts}>
      <Header c={c} section={opts.section} />
      <Nav c={c} section={opts.section} />
      <main id="main">{content}</main>
    </Document>
  )
  return c.html(`<!doctype html>${await page.toString()}`, opts.status ?? 200)
}

/** Renders a sign-in style page (login, reset, invitation): a narrow card, no navigation. */
export async function renderAuth(c: Context<PortalEnv>, opts: PageOptions, content: Child): Promise<Response> {
  const page = (
    <Document c={c} title={opts.title} bodyClass="auth">
      <main id="main">
        <div class="panel">{content}</div>
      </main>
    </Document>
  )
  return c.html(`<!doctype html>${await page.toString()}`, opts.status ?? 200)
}

/** Renders only a fragment (the answer to an htmx request or a live update). */
export async function fragment(node: Child): Promise<string> {
  return (await (node as { toString(): string | Promise<string> }).toString()) as string
}
