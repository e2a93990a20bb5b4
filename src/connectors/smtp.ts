/** Placeholder until issue #4 builds it: channels of this type cannot be created yet. */
import { z } from 'zod'
import { type Connector, ConnectorError } from './types'

export const smtpConnector: Connector = {
  type: 'smtp',
  capabilities: [],
  configSchema: z.never({ message: 'the smtp connector is not available yet' }),
  secretKeys: [],
  async send() {
    throw new ConnectorError('permanent', 'not_available', 'the smtp connector is not available yet')
  },
}
