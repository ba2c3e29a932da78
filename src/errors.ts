/**
 * Stable codes for every warning and error the plugin and the CLI raise.
 * Rollup and Rolldown move a plugin's `code` to `pluginCode`; assert on that.
 */
export const Codes = {
  /** An option has the wrong type or value. */
  INVALID_OPTION: 'INVALID_OPTION',
  /** A CSS or HTML reference names a file that exists nowhere. */
  CSS_URL_UNRESOLVED: 'CSS_URL_UNRESOLVED',
  /** An output file's name carries no content hash; it is published as mutable (`no-cache`). */
  UNHASHED_OUTPUT: 'UNHASHED_OUTPUT',
  /** Publishing was skipped (no bucket configured). Informational. */
  PUBLISH_SKIPPED: 'PUBLISH_SKIPPED',
  /** No credentials could be found by the AWS SDK default provider chain. */
  CREDENTIALS_MISSING: 'CREDENTIALS_MISSING',
  /** The bucket does not exist at the endpoint. */
  BUCKET_NOT_FOUND: 'BUCKET_NOT_FOUND',
  /** The store refused an operation. */
  ACCESS_DENIED: 'ACCESS_DENIED',
  /** The endpoint could not be reached. */
  ENDPOINT_UNREACHABLE: 'ENDPOINT_UNREACHABLE',
  /** A fingerprinted key already exists with different bytes. */
  IMMUTABLE_KEY_CONFLICT: 'IMMUTABLE_KEY_CONFLICT',
  /**
   * Another publish or rollback switched the same prefix first (or holds the switch for too long):
   * this one changed nothing that is served. The message names the winner; running it again is safe.
   */
  PUBLISH_CONFLICT: 'PUBLISH_CONFLICT',
  /** Any other failure while publishing. */
  PUBLISH_FAILED: 'PUBLISH_FAILED',
  /** Pruning failed; nothing was lost, the next prune retries. */
  PRUNE_FAILED: 'PRUNE_FAILED',
  /** Pruning deleted nothing because the bucket's state is not safe to plan on (the message says why). */
  PRUNE_REFUSED: 'PRUNE_REFUSED',
  /** (warning) Files this release reuses were deleted while it published (a concurrent prune); they were uploaded again. */
  REUPLOADED: 'REUPLOADED',
  /** (warning) The prune plan kept something for safety: a timestamp in the future (clock skew), an unread record, a file the current release names that is missing. */
  PRUNE_KEPT: 'PRUNE_KEPT',
  /** (warning) The CDN invalidation after the switch failed; the release is live, the CDN may serve cached pages until they expire. */
  INVALIDATION_FAILED: 'INVALIDATION_FAILED',
  /** (warning) The publish report could not be written; the publish stands. */
  REPORT_NOT_WRITTEN: 'REPORT_NOT_WRITTEN',
  /** A rollback was refused: no such retained release, or some of its files are gone. */
  ROLLBACK_REFUSED: 'ROLLBACK_REFUSED',
} as const

export type Code = (typeof Codes)[keyof typeof Codes]

/** An error that carries a stable code and is reported without a stack trace. */
export class CdnPublishError extends Error {
  readonly code: Code
  /** Extra, safe-to-print data (never credentials). */
  readonly data: Record<string, unknown>
  constructor(code: Code, message: string, data: Record<string, unknown> = {}) {
    super(message)
    this.name = 'CdnPublishError'
    this.code = code
    this.data = data
  }
}
