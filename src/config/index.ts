export {
  type ConfigIssue,
  ConfigError,
  checkConfigFile,
  DEFAULT_CONFIG_PATH,
  type LoadOptions,
  loadConfig,
} from './load'
export {
  API_KEY_PREFIX,
  type ChannelConfig,
  type Config,
  configSchema,
  type NamespaceConfig,
  parseListen,
  publicUrl,
  publicUrlWarning,
  SLUG_PATTERN,
} from './schema'
