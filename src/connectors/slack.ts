/** Placeholder until issue #4 builds it: channels of this type cannot be created yet. */
import { z } from 'zod'
import { type Connector, ConnectorError } from './types'

export const slackConnector: Connector = {
  type: 'slack',
  capabilities: [],
  configSchema: z.never({ message: 'the slack connector is not available yet' }),
  secretKeys: [],
  async send() {
    throw new ConnectorError('permanent', 'not_available', 'the slack connector is not available yet')
  },
}
