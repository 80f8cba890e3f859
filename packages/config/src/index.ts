export * from './schema.ts';
export * from './types.ts';
export { loadConfig, loadConfigFromText, type LoadConfigOptions, type LoadConfigFromTextOptions } from './load.ts';
export type { ConfigEnv, ReadTextFile } from './secrets.ts';
export { SECRET_KEY_PATHS } from './secrets.ts';
export { formatKeyPath, type ConfigIssue, type ConfigErrorCode } from './issues.ts';
export { maskConfig, maskUrlPassword, MASK } from './mask.ts';
export { configJsonSchema } from './json-schema.ts';
export { configWarnings, type ConfigWarning } from './warnings.ts';
export {
  profileDefaults,
  resolveUserMapping,
  resolveGroupMapping,
  resolveDeltaMechanism,
  userMappingAttributes,
  type DirectoryType,
  type DeltaMechanism,
  type GroupMapping,
  type MemberAttribute,
  type ProfileDefaults,
  type UserMapping,
} from './profile-defaults.ts';
