/** Every connector by type. A new provider is one file plus one line here. */
import { discordConnector } from './discord'
import { httpConnector } from './http'
import { sandboxConnector } from './sandbox'
import { slackConnector } from './slack'
import { smtpConnector } from './smtp'
import { telegramConnector } from './telegram'
import { twilioSmsConnector } from './twilio-sms'
import type { Connector } from './types'
import { webpushConnector } from './webpush'
import { whatsappCloudConnector } from './whatsapp-cloud'

const connectors: Connector[] = [
  sandboxConnector,
  httpConnector,
  smtpConnector,
  twilioSmsConnector,
  whatsappCloudConnector,
  telegramConnector,
  webpushConnector,
  slackConnector,
  discordConnector,
]

const byType = new Map(connectors.map((c) => [c.type, c]))

export function getConnector(type: string): Connector | undefined {
  return byType.get(type)
}

export function connectorTypes(): string[] {
  return [...byType.keys()]
}
