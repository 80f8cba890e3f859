/**
 * Every stable code dirstream reports: thrown (DirstreamError), written to a run's errors or the
 * sync log, dead-lettered, or answered over HTTP. A new code is added here first (createError
 * takes an ErrorCode), with its row in docs/errors.md; a test keeps the two in step.
 *
 * The value is the code's class: `data` (the record or entry itself is at fault: retrying cannot
 * help, it is reported or dead-lettered and the rest goes on), `retriable` (an outage: a later try
 * may succeed), `fatal` (configuration, usage or a bug: retrying the same cannot help), or
 * `sqlstate` when the SQLSTATE it wraps decides (see classifyFailure).
 */
export type FailureClass = 'retriable' | 'data' | 'fatal';

export const ERROR_CODES = {
  // Configuration and the command line
  CONFIG_INVALID: 'fatal',
  CONFIG_NOT_FOUND: 'fatal',
  CONFIG_SECRET_MISSING: 'fatal',
  CLI_USAGE: 'fatal',
  CLI_MODULE_UNAVAILABLE: 'fatal',
  PROFILE_NOT_FOUND: 'fatal',
  PROFILE_DISABLED: 'fatal',
  DIRECTORY_TYPE_UNSUPPORTED: 'fatal',

  // The directory
  LDAP_CONNECTION_FAILED: 'retriable',
  LDAP_BIND_FAILED: 'fatal',
  LDAP_NO_SUCH_OBJECT: 'fatal',
  LDAP_SIZE_LIMIT_EXCEEDED: 'retriable',
  LDAP_TIME_LIMIT_EXCEEDED: 'retriable',
  LDAP_OPERATION_FAILED: 'retriable',
  LDAP_REFERRAL_NOT_FOLLOWED: 'fatal',
  AD_ROOTDSE_INCOMPLETE: 'fatal',
  AD_INVOCATION_ID_UNREADABLE: 'fatal',
  AD_DIRSYNC_NO_COOKIE: 'fatal',
  DELTA_TOO_LARGE: 'retriable',
  DELTA_CURSOR_INVALID: 'retriable',
  DELTA_UNAVAILABLE: 'fatal',
  ENTRY_MISSING_ATTRIBUTE: 'data',
  ENTRY_INVALID_VALUE: 'data',
  ENTRY_TOO_LARGE: 'data',

  // The poller's runs and its state
  RUN_ABORTED: 'retriable',
  RUN_FAILED: 'fatal',
  SYNC_RUN_UNKNOWN: 'fatal',
  SYNC_WAIT_TIMEOUT: 'retriable',
  STATE_MIGRATION_FAILED: 'retriable',
  STATE_QUERY_FAILED: 'sqlstate',
  DB_CONNECT_FAILED: 'retriable',

  // Events and Kafka
  EVENT_DECODE_FAILED: 'data',
  EVENT_UNKNOWN_SCHEMA: 'data',
  EVENT_KEY_INVALID: 'data',
  EVENT_ENCODE_FAILED: 'fatal',
  EVENT_SCHEMA_INVALID: 'fatal',
  EVENT_ID_INVALID: 'fatal',
  EVENT_VERSION_INVALID: 'fatal',
  EVENT_TOPIC_PREFIX_INVALID: 'fatal',
  EVENT_TOPIC_SETUP_FAILED: 'retriable',
  EVENT_TOPIC_MISCONFIGURED: 'fatal',
  EVENT_PRODUCE_INCOMPLETE: 'retriable',
  KAFKA_PRODUCE_FAILED: 'retriable',
  KAFKA_UNAVAILABLE: 'retriable',
  KAFKA_TOPIC_MISSING: 'fatal',

  // The applier
  APPLY_INVALID_EVENT: 'data',
  APPLY_KEY_MISMATCH: 'data',
  APPLY_UNKNOWN_PROFILE: 'data',
  APPLY_UNEXPECTED_TOMBSTONE: 'data',
  APPLIER_MIGRATION_FAILED: 'retriable',
  APPLIER_STOPPING: 'retriable',
  APPLIER_FAILED: 'fatal',
  USER_LOCAL_ACCOUNT_CONFLICT: 'data',
  USER_DUPLICATE_LOGIN: 'data',
  USER_DUPLICATE_IDENTITY: 'data',
  DEAD_LETTER_UNREADABLE: 'data',

  // Sign-in answers
  AUTH_INVALID_CREDENTIALS: 'fatal',
  AUTH_ACCOUNT_DISABLED: 'fatal',
  AUTH_ACCOUNT_EXPIRED: 'fatal',
  AUTH_ACCOUNT_LOCKED: 'fatal',
  AUTH_PASSWORD_EXPIRED: 'fatal',
  AUTH_PASSWORD_MUST_CHANGE: 'fatal',
  AUTH_LOGON_HOURS_RESTRICTED: 'fatal',
  AUTH_WORKSTATION_RESTRICTED: 'fatal',
  AUTH_RATE_LIMITED: 'retriable',
  AUTH_DIRECTORY_UNAVAILABLE: 'retriable',
  AUTH_CLIENT_UNAUTHENTICATED: 'fatal',

  // HTTP answers of `dirstream serve`
  HTTP_BAD_REQUEST: 'fatal',
  HTTP_UNAUTHENTICATED: 'fatal',
  HTTP_FORBIDDEN: 'fatal',
  HTTP_NOT_FOUND: 'fatal',
  HTTP_CONFLICT: 'fatal',
  HTTP_PAYLOAD_TOO_LARGE: 'fatal',
  HTTP_UNSUPPORTED_MEDIA_TYPE: 'fatal',
  HTTP_RATE_LIMITED: 'retriable',
  HTTP_UNAVAILABLE: 'retriable',
  INTERNAL: 'fatal',
} as const satisfies Readonly<Record<string, FailureClass | 'sqlstate'>>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}
