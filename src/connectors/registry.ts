/** Every connector by type. A new provider is one file plus one line here. */
import { httpConnector } from './http'
import { sandboxConnector } from './sandbox'
import type { Connector } from './types'

const connectors: Connector[] = [sandboxConnector, httpConnector]

const byType = new Map(connectors.map((c) => [c.type, c]))

export function getConnector(type: string): Connector | undefined {
  return byType.get(type)
}

export function connectorTypes(): string[] {
  return [...byType.keys()]
}
