/**
 * Inbound listeners: for every active channel whose connector pulls its traffic (Telegram long
 * polling), one listener, started and stopped as channels come, change and go. The channel list
 * is re-read every few seconds, so a channel created by the API or the CLI starts listening
 * without a restart.
 */
import { eq, inArray } from 'drizzle-orm'
import { connectorTypes, getConnector } from '../connectors/registry'
import type { Listener } from '../connectors/types'
import { type Channel, openChannelConfig } from '../domain/channels'
import type { Deps } from '../domain/deps'
import { inboundUrl, recordInbound } from '../domain/inbound'
import type { Logger } from '../lib/log'
import { channels, terminals } from '../store/schema'
import { USER_AGENT } from '../version'

/** How often the channel list is re-read for new, changed or removed pulling channels. */
const RESCAN_MS = 5000

export class InboundListeners {
  private readonly running = new Map<string, { listener: Listener; version: number }>()
  /** Channels whose connector declined to listen (webhook mode), by config version: not asked again. */
  private readonly declined = new Map<string, number>()
  private timer: ReturnType<typeof setInterval> | null = null
  private scanning: Promise<void> | null = null

  constructor(
    private readonly deps: Deps,
    private readonly log: Logger,
  ) {}

  start(): void {
    const types = connectorTypes().filter((t) => getConnector(t)?.listen)
    if (types.length === 0) return
    const scan = () => {
      this.scanning ??= this.rescan(types)
        .catch((error) => this.log.error('listener rescan failed', { error: String(error) }))
        .finally(() => (this.scanning = null))
    }
    scan()
    this.timer = setInterval(scan, RESCAN_MS)
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    await this.scanning
    await Promise.all([...this.running.values()].map((r) => r.listener.stop()))
    this.running.clear()
  }

  /** Channel ids with a running listener (for tests and `jobs list`). */
  active(): string[] {
    return [...this.running.keys()]
  }

  private async rescan(types: string[]): Promise<void> {
    const rows = await this.deps.store.read.select().from(channels).where(inArray(channels.type, types))
    const wanted = new Map(rows.filter((c) => c.status !== 'paused').map((c) => [c.id, c]))
    for (const [id, entry] of this.running) {
      const channel = wanted.get(id)
      if (!channel || channel.updatedAt !== entry.version) {
        await entry.listener.stop()
        this.running.delete(id)
      }
    }
    for (const channel of wanted.values()) {
      if (this.running.has(channel.id) || this.declined.get(channel.id) === channel.updatedAt) continue
      await this.startOne(channel)
    }
  }

  private async startOne(channel: Channel): Promise<void> {
    const connector = getConnector(channel.type)!
    const owned = await this.deps.store.read.select({ address: terminals.address }).from(terminals).where(eq(terminals.channelId, channel.id))
    try {
      const listener = connector.listen!(
        {
          config: openChannelConfig(this.deps, channel),
          fetch: this.deps.fetch,
          userAgent: USER_AGENT,
          channel: { id: channel.id, name: channel.name, type: channel.type },
          callbackUrl: inboundUrl(this.deps.publicUrl, channel.id),
          terminals: owned.map((t) => t.address),
          log: this.log,
        },
        async (result) => {
          await recordInbound(this.deps, channel, result)
        },
      )
      if (listener) {
        this.running.set(channel.id, { listener, version: channel.updatedAt })
        this.log.info('listener started', { channel_id: channel.id, type: channel.type })
      } else {
        this.declined.set(channel.id, channel.updatedAt)
      }
    } catch (error) {
      // Logged once per config version, not every rescan.
      this.declined.set(channel.id, channel.updatedAt)
      this.log.error('listener failed to start', { channel_id: channel.id, error: String(error) })
    }
  }
}
