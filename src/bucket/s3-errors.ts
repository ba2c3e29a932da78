/**
 * What a failed store request means, as a coded error that names the operation, the key and the
 * fix (the IAM action a refusal needs, the endpoint that did not answer), with any secret scrubbed.
 */
import { CdnPublishError, Codes } from '../errors.js'

export type StoreOperation = 'list' | 'head' | 'get' | 'put' | 'delete'

export interface StoreErrorContext {
  operation: StoreOperation
  key?: string
  bucket: string
  /** Printable endpoint (URL or a description such as `AWS S3 (eu-west-1)`). */
  endpoint: string
}

const IAM_ACTION: Record<StoreOperation, string> = {
  list: 's3:ListBucket',
  head: 's3:GetObject',
  get: 's3:GetObject',
  put: 's3:PutObject',
  delete: 's3:DeleteObject',
}


/**
 * Default idle timeout of a request attempt. With 3 attempts (the SDK arms the timer about 3 s
 * into an attempt) a store that accepts connections and never answers fails in about 55 s:
 * within the minute the README promises.
 */
export function toStoreError(err: unknown, ctx: StoreErrorContext): CdnPublishError {
  if (err instanceof CdnPublishError) return err
  const { operation, key, bucket, endpoint } = ctx
  const name = errorName(err)
  const status = httpStatus(err)
  const sdkMessage = err instanceof Error ? err.message : String(err)
  const target = key !== undefined && key !== '' ? `s3://${bucket}/${key}` : `s3://${bucket}`
  const what = `${operation} of ${target} at ${endpoint}`
  const data: Record<string, unknown> = { bucket, endpoint, operation }
  if (key !== undefined) data.key = key
  if (name) data.awsCode = name
  if (status !== undefined) data.httpStatus = status
  const requestId = (err as { $metadata?: { requestId?: string } })?.$metadata?.requestId
  if (requestId) data.requestId = requestId

  if (name === 'CredentialsProviderError' || /could not load credentials/i.test(sdkMessage)) {
    return new CdnPublishError(
      Codes.CREDENTIALS_MISSING,
      `${what}: no AWS credentials found. They are read only through the AWS SDK default provider chain: ` +
        'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (a profile in ~/.aws/config or ~/.aws/credentials), ' +
        'or sign in with AWS SSO (aws sso login), or use web identity (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, e.g. CI OIDC), ' +
        'or run with a container/instance role.',
      data,
    )
  }
  if (name === 'NoSuchBucket') {
    return new CdnPublishError(
      Codes.BUCKET_NOT_FOUND,
      `${what}: bucket "${bucket}" does not exist there. Create it, or check the bucket name (publish.bucket, cdn-publish --bucket or CDN_PUBLISH_BUCKET), ` +
        'the endpoint and the region (AWS_REGION).',
      data,
    )
  }
  if (name === 'InvalidAccessKeyId') {
    return new CdnPublishError(
      Codes.ACCESS_DENIED,
      `${what}: access denied: the store does not know this access key id. Check AWS_ACCESS_KEY_ID or the profile's ` +
        'credentials, and that they belong to this endpoint.',
      data,
    )
  }
  if (name === 'SignatureDoesNotMatch') {
    return new CdnPublishError(
      Codes.ACCESS_DENIED,
      `${what}: access denied: the request signature does not match. Check the secret key ` +
        "(AWS_SECRET_ACCESS_KEY or the profile's aws_secret_access_key) paired with this access key id, and the clock.",
      data,
    )
  }
  if (
    name === 'AccessDenied' ||
    name === 'AllAccessDisabled' ||
    name === 'AccountProblem' ||
    name === 'Forbidden' ||
    status === 403
  ) {
    const action = IAM_ACTION[operation]
    const resource = operation === 'list' ? `arn:aws:s3:::${bucket}` : `arn:aws:s3:::${bucket}/*`
    const headHint =
      name === 'AccessDenied'
        ? ''
        : ' (the answer carried no details: if the policy is right, check the secret key too)'
    return new CdnPublishError(
      Codes.ACCESS_DENIED,
      `${what}: access denied${headHint}. The credentials need ${action} on ${resource}.`,
      { ...data, action },
    )
  }
  if (/region is missing/i.test(sdkMessage)) {
    return new CdnPublishError(
      Codes.INVALID_OPTION,
      `${what}: no region. Set publish.region (cdn-publish --region), CDN_PUBLISH_REGION or AWS_REGION, or a region in the AWS profile.`,
      { ...data, option: 'publish.region' },
    )
  }
  const net = networkCode(err)
  if (net !== undefined) {
    return new CdnPublishError(
      Codes.ENDPOINT_UNREACHABLE,
      `${what}: the endpoint could not be reached (${net}). Check the endpoint URL (publish.endpoint, cdn-publish --endpoint, CDN_PUBLISH_ENDPOINT or AWS_ENDPOINT_URL_S3), ` +
        'that the store is running and that the network allows the connection.',
      data,
    )
  }
  if (name === 'PreconditionFailed' || status === 412) {
    return new CdnPublishError(
      Codes.PUBLISH_CONFLICT,
      `${what}: the object under this key changed since it was read (a conditional write, If-Match or If-None-Match, failed with HTTP 412).`,
      data,
    )
  }
  const detail = [name, status !== undefined ? `HTTP ${status}` : undefined].filter(Boolean).join(', ')
  return new CdnPublishError(
    Codes.PUBLISH_FAILED,
    `${what} failed${detail ? ` (${detail})` : ''}: ${sdkMessage}`,
    data,
  )
}

// ---------------------------------------------------------------------------------------------

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
])

/** The network error code (or `timeout`) of an error and anything it wraps, if any. */
function networkCode(err: unknown, depth = 0): string | undefined {
  if (!err || typeof err !== 'object' || depth > 4) return undefined
  const e = err as { code?: unknown; name?: unknown; errors?: unknown; cause?: unknown; $metadata?: { httpStatusCode?: number } }
  // an HTTP answer means the endpoint was reached
  if (e.$metadata?.httpStatusCode !== undefined) return undefined
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return e.code
  if (e.name === 'TimeoutError') return 'timeout'
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const c = networkCode(inner, depth + 1)
      if (c) return c
    }
  }
  return networkCode(e.cause, depth + 1)
}

export function errorName(err: unknown): string | undefined {
  if (!err || typeof err !== 'object') return undefined
  const e = err as { name?: unknown; Code?: unknown }
  if (typeof e.Code === 'string') return e.Code
  return typeof e.name === 'string' ? e.name : undefined
}

function httpStatus(err: unknown): number | undefined {
  const s = (err as { $metadata?: { httpStatusCode?: unknown } } | undefined)?.$metadata?.httpStatusCode
  return typeof s === 'number' ? s : undefined
}

export function isNotFound(err: unknown): boolean {
  const name = errorName(err)
  return name === 'NotFound' || name === 'NoSuchKey' || httpStatus(err) === 404
}

export function scrub(err: CdnPublishError, secrets: string[]): CdnPublishError {
  const clean = (s: string) => secrets.reduce((acc, secret) => acc.split(secret).join('***'), s)
  if (!secrets.some((s) => err.message.includes(s) || JSON.stringify(err.data).includes(s))) return err
  const data: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(err.data)) data[k] = typeof v === 'string' ? clean(v) : v
  return new CdnPublishError(err.code, clean(err.message), data)
}
