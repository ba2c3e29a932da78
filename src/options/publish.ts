import { CdnPublishError, Codes } from '../errors.js'
import { ENV_FOR, firstEnv, invalidEnv, lookup, parseBool, type EnvName, type PublishEnv, type SourcedOption, type ValueSource } from './env.js'
import { compileGlob, type GlobMatcher } from '../util/glob.js'

/** A content encoding the publish step can store files with. */
export type PrecompressEncoding = 'gzip' | 'br'

/** Precompression with a choice of files. */
export interface PrecompressOptions {
  /** Encoding to store the files with (`Content-Encoding`). */
  encoding: PrecompressEncoding
  /**
   * Globs (relative to the output directory) of the files to precompress.
   * @default DEFAULT_PRECOMPRESS_INCLUDE (text formats: js, mjs, cjs, css, html, json, map, svg, txt, xml, wasm, webmanifest, ico)
   */
  include?: string[]
}

/** Extra or replaced headers for the files a glob matches. */
export interface HeaderRule {
  /** Glob or globs matched against the path relative to the output directory, such as `'fonts/*.woff2'`. */
  match: string | string[]
  /**
   * Headers to store with the matching files: `Cache-Control`, `Content-Type`,
   * `Content-Disposition`, `Content-Language`, `Content-Encoding`, `x-amz-meta-*` and other
   * `x-amz-*` object headers. Names are case-insensitive. Later rules win over earlier ones.
   */
  headers: Record<string, string>
}

/**
 * Options of the publish step (`cdnPublish({ publish: { … } })`).
 *
 * Resources fall back to environment variables, which are also read from Vite's `.env`,
 * `.env.local`, `.env.[mode]` and `.env.[mode].local` files. Precedence: explicit option >
 * environment variable (a variable of the real environment wins over the same one in a `.env`
 * file, as in Vite) > default. Credentials are never options: they come from the AWS SDK's default
 * provider chain only.
 */
export interface PublishOptions {
  /**
   * Bucket to publish to. Environment: `CDN_PUBLISH_BUCKET`. Publishing is skipped (with one
   * line saying so) when no bucket is set.
   * @default undefined
   */
  bucket?: string
  /**
   * Key prefix of every object: a file's key is `prefix` + its path relative to the output
   * directory. Normalised to `''` or a value ending in `/`. Environment: `CDN_PUBLISH_PREFIX`.
   * @default ''
   */
  prefix?: string
  /**
   * Region of the bucket. Environment: `CDN_PUBLISH_REGION`, then `AWS_REGION`.
   * @default the AWS SDK's (profile), or `'us-east-1'` with a custom `endpoint`
   */
  region?: string
  /**
   * Endpoint of an S3-compatible store (R2, MinIO, Ceph, Spaces, B2…), such as
   * `'https://<account>.r2.cloudflarestorage.com'`. Environment: `CDN_PUBLISH_ENDPOINT`, then
   * `AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`.
   * @default undefined (AWS S3)
   */
  endpoint?: string
  /**
   * Address the bucket as `endpoint/bucket/key` instead of `bucket.endpoint/key` (MinIO, Ceph and
   * most self-hosted stores need this). Environment: `CDN_PUBLISH_FORCE_PATH_STYLE`.
   * @default true when `endpoint` is an IP address or `localhost`, false otherwise
   */
  forcePathStyle?: boolean
  /**
   * Uploads in flight at once.
   * @default 8
   */
  concurrency?: number
  /**
   * Do every read, print the full plan (each upload, skip and conflict with its reason) and
   * write nothing to the bucket. Environment: `CDN_PUBLISH_DRY_RUN`.
   * @default false
   */
  dryRun?: boolean
  /** `Cache-Control` of fingerprinted (immutable) and of all other (mutable) files. */
  cacheControl?: {
    /** @default 'public, max-age=31536000, immutable' */
    immutable?: string
    /** @default 'no-cache' */
    mutable?: string
  }
  /**
   * Header overrides by glob, applied after the defaults; for each header the last matching rule
   * wins.
   * @default []
   */
  headers?: HeaderRule[]
  /**
   * Whether source maps (`*.map`) are published.
   * @default 'publish'
   */
  sourcemaps?: 'publish' | 'skip'
  /**
   * Store text files compressed, with `Content-Encoding`: `'gzip'`, `'br'`, or
   * `{ encoding, include: [globs] }`. Every client then receives the encoded bytes, so use `'br'`
   * only where all clients accept Brotli. The stable manifest is never precompressed.
   * @default false
   */
  precompress?: false | PrecompressEncoding | PrecompressOptions
  /**
   * Free text stored with the release record, such as a commit id. Environment:
   * `CDN_PUBLISH_LABEL`.
   * @default the plugin's top-level `label`, else undefined
   */
  label?: string
  /**
   * When the AWS SDK adds request checksums and validates response checksums. `'WHEN_REQUIRED'`
   * works with every S3-compatible store; `'WHEN_SUPPORTED'` (the SDK's own default) adds CRC32
   * checksums that R2, Ceph and older MinIO reject. Every upload carries `Content-MD5` either way.
   * @default 'WHEN_REQUIRED'
   */
  checksums?: 'WHEN_REQUIRED' | 'WHEN_SUPPORTED'
  /**
   * Where the publish report (`cdn-publish-report.json`: what was uploaded, skipped and pruned,
   * and where each setting came from) is written: a path, relative to the project root, or
   * `false` for none. It is never written inside the published directory, where a server would
   * serve it.
   * @default '<project root>/node_modules/.cache/cdn-publish/cdn-publish-report.json'
   */
  report?: string | false
}

/** Text formats precompressed by default. */
export const DEFAULT_PRECOMPRESS_INCLUDE = ['**/*.{js,mjs,cjs,css,html,htm,json,map,svg,txt,xml,wasm,webmanifest,ico}']

export const DEFAULT_CACHE_CONTROL = {
  immutable: 'public, max-age=31536000, immutable',
  mutable: 'no-cache',
} as const

export const DEFAULT_CONCURRENCY = 8

/** A header rule with its globs compiled and header names lower-cased. */
export interface ResolvedHeaderRule {
  match: string[]
  matchers: GlobMatcher[]
  headers: Record<string, string>
}

export interface ResolvedPrecompress {
  encoding: PrecompressEncoding
  include: string[]
  matchers: GlobMatcher[]
}

export interface ResolvedPublishOptions {
  /** Undefined: publishing is skipped. */
  bucket: string | undefined
  /** `''` or ending in `/`. */
  prefix: string
  /** Undefined: the SDK decides. */
  region: string | undefined
  /** Undefined: AWS S3. */
  endpoint: string | undefined
  forcePathStyle: boolean
  concurrency: number
  dryRun: boolean
  label: string | undefined
  cacheControl: { immutable: string; mutable: string }
  headers: ResolvedHeaderRule[]
  sourcemaps: 'publish' | 'skip'
  precompress: ResolvedPrecompress | false
  checksums: 'WHEN_REQUIRED' | 'WHEN_SUPPORTED'
  /** The report's path as given (relative to the project root), `false` for none, undefined for the default. */
  report: string | false | undefined
  /** Where each value that can come from the environment came from. */
  sources: Record<SourcedOption, ValueSource>
}


const KNOWN_OPTIONS = new Set([
  'bucket',
  'prefix',
  'region',
  'endpoint',
  'forcePathStyle',
  'concurrency',
  'dryRun',
  'cacheControl',
  'headers',
  'sourcemaps',
  'precompress',
  'label',
  'checksums',
  'report',
])
const CREDENTIAL_OPTIONS = /^(?:credentials|accesskey(?:id)?|secret(?:accesskey)?|sessiontoken|token|password|profile)$/i

/** Headers a rule may not set: the publish step or the SDK owns them. */
const RESERVED_HEADERS = new Set([
  'authorization',
  'content-length',
  'content-md5',
  'expect',
  'host',
  'if-match',
  'if-none-match',
  'transfer-encoding',
  'x-amz-content-sha256',
  'x-amz-date',
  'x-amz-security-token',
  'x-amz-decoded-content-length',
  'x-amz-sdk-checksum-algorithm',
  'x-amz-trailer',
])
const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

function invalid(option: string, expected: string, got?: { value: unknown } | string): CdnPublishError {
  const shown = got === undefined ? '' : typeof got === 'string' ? `, ${got}` : `, got ${JSON.stringify(got.value) ?? String(got.value)}`
  return new CdnPublishError(Codes.INVALID_OPTION, `Invalid option \`${option}\`: expected ${expected}${shown}.`, { option })
}

/** Resolve one string option: option > environment > default. */
function stringOption(
  option: string,
  value: unknown,
  env: PublishEnv,
  names: readonly EnvName[],
): { value: string | undefined; source: ValueSource; envName?: string } {
  if (value !== undefined) {
    if (typeof value !== 'string') throw invalid(`publish.${option}`, 'a string', { value })
    return { value, source: 'option' }
  }
  const hit = firstEnv(env, names)
  return hit ? { value: hit.value, source: hit.source, envName: hit.name } : { value: undefined, source: 'default' }
}

function booleanOption(option: string, value: unknown, env: PublishEnv, name: EnvName): { value: boolean | undefined; source: ValueSource } {
  if (value !== undefined) {
    if (typeof value !== 'boolean') throw invalid(`publish.${option}`, 'true or false', { value })
    return { value, source: 'option' }
  }
  const hit = lookup(env, name)
  return hit ? { value: parseBool(name, hit.source, hit.value), source: hit.source } : { value: undefined, source: 'default' }
}

/** Where a value came from, worded for a message about that value. */
function origin(option: string, r: { source: ValueSource; envName?: string }): string {
  return r.source === 'option' ? `publish.${option}` : r.envName ?? option
}

function checkBucket(r: { value: string | undefined; source: ValueSource; envName?: string }): string | undefined {
  const bucket = r.value
  if (bucket === undefined) return undefined
  const name = origin('bucket', r)
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(bucket)
  if (m) {
    const hint = m[2] ? `use bucket '${m[1]}' and prefix '${m[2].replace(/\/?$/, '/')}'` : `use '${m[1]}'`
    throw invalidBucket(name, r.source, bucket, `a bare bucket name, not an s3:// URL (${hint})`)
  }
  const broken = bucketRule(bucket)
  if (broken) throw invalidBucket(name, r.source, bucket, `a bucket name such as 'my-site-assets' (${broken})`)
  return bucket
}

/**
 * The first bucket-naming rule `bucket` breaks, worded for the message, or undefined. The rules
 * are S3's (3 to 63 characters; letters, digits, '.' and '-'; a letter or digit at each end),
 * with upper case and '_' allowed as S3-compatible stores allow them.
 */
export function bucketRule(bucket: string): string | undefined {
  if (bucket.includes('/')) return "no '/': put the path in `prefix`"
  if (bucket.length < 3 || bucket.length > 63) return `3 to 63 characters, this one has ${bucket.length}`
  const bad = /[^A-Za-z0-9._-]/.exec(bucket)
  if (bad) return `only letters, digits, '.', '-' and '_', this one has ${JSON.stringify(bad[0])} at position ${bad.index + 1}`
  if (!/^[A-Za-z0-9]/.test(bucket) || !/[A-Za-z0-9]$/.test(bucket)) return 'a letter or digit at each end'
  if (bucket.includes('..')) return "no two '.' in a row"
  return undefined
}

function invalidBucket(name: string, source: ValueSource, value: string, expected: string): CdnPublishError {
  return source === 'option' ? invalid(name, expected, { value }) : invalidEnv(name, source, expected, value)
}

/** `''` or a prefix ending in `/`; a leading `/` is dropped. */
export function normalizePrefix(prefix: string): string | undefined {
  const p = prefix.trim().replace(/^\/+/, '')
  if (p === '') return ''
  const withSlash = p.endsWith('/') ? p : `${p}/`
  const segments = withSlash.slice(0, -1).split('/')
  if (segments.some((s) => s === '' || s === '.' || s === '..') || withSlash.includes('\\')) return undefined
  return withSlash
}

function checkPrefix(r: { value: string | undefined; source: ValueSource; envName?: string }): string {
  if (r.value === undefined) return ''
  const p = normalizePrefix(r.value)
  if (p === undefined) {
    const expected = "a key prefix such as 'assets/' or 'site/v2/' (no empty, '.' or '..' segments, no backslashes)"
    throw r.source === 'option' ? invalid('publish.prefix', expected, { value: r.value }) : invalidEnv(r.envName!, r.source, expected, r.value)
  }
  return p
}

function checkEndpoint(r: { value: string | undefined; source: ValueSource; envName?: string }): string | undefined {
  if (r.value === undefined) return undefined
  const name = origin('endpoint', r)
  const fail = (expected: string, shown: boolean) =>
    r.source === 'option'
      ? invalid(name, expected, shown ? { value: r.value } : 'got a URL with a user name or password (those are not printed)')
      : new CdnPublishError(
          Codes.INVALID_OPTION,
          `Invalid environment variable ${name}${r.source.startsWith('.env') ? ' (read from a .env file)' : ''}: expected ${expected}` +
            (shown ? `, got ${JSON.stringify(r.value)}.` : '; it contains a user name or password (not printed).'),
          { option: name },
        )
  // an endpoint never needs an `@`: a value with one may carry credentials and is never echoed
  if (r.value.includes('@')) throw fail('an http(s) URL without credentials (credentials come from the AWS SDK provider chain)', false)
  let url: URL
  try {
    url = new URL(r.value)
  } catch {
    throw fail("an http(s) URL such as 'https://s3.example.com' or 'http://127.0.0.1:9000'", true)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw fail("an http(s) URL such as 'https://s3.example.com' or 'http://127.0.0.1:9000'", true)
  }
  if (url.search || url.hash) throw fail('an http(s) URL without query or fragment', true)
  return r.value.replace(/\/+$/, '')
}

function checkRegion(r: { value: string | undefined; source: ValueSource; envName?: string }): string | undefined {
  if (r.value === undefined) return undefined
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(r.value)) {
    const expected = "a region name such as 'eu-west-1' or 'auto'"
    throw r.source === 'option' ? invalid('publish.region', expected, { value: r.value }) : invalidEnv(r.envName!, r.source, expected, r.value)
  }
  return r.value
}

function isLocalHost(endpoint: string | undefined): boolean {
  if (endpoint === undefined) return false
  const host = new URL(endpoint).hostname
  return host === 'localhost' || /^\d+\.\d+\.\d+\.\d+$/.test(host) || host.startsWith('[')
}

function checkHeaderValue(option: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '' || /[\r\n\0]/.test(value)) {
    throw invalid(option, 'a non-empty header value on one line', { value })
  }
  return value
}

function checkGlobs(option: string, value: unknown): { match: string[]; matchers: GlobMatcher[] } {
  const list = typeof value === 'string' ? [value] : value
  if (!Array.isArray(list) || list.length === 0 || list.some((g) => typeof g !== 'string' || g === '')) {
    throw invalid(option, "a glob or a non-empty list of globs such as '**/*.png'", { value })
  }
  const matchers = list.map((g: string) => {
    try {
      return compileGlob(g)
    } catch (e) {
      throw invalid(option, "well-formed globs ('*', '**', '?', '{a,b}')", `got ${JSON.stringify(g)}, which ${(e as Error).message}`)
    }
  })
  return { match: list as string[], matchers }
}

function checkHeaders(value: unknown): ResolvedHeaderRule[] {
  if (value === undefined) return []
  const example = "a list of rules such as [{ match: '**/*.woff2', headers: { 'Cache-Control': 'public, max-age=604800' } }]"
  if (!Array.isArray(value)) throw invalid('publish.headers', example, { value })
  return value.map((rule: unknown, i) => {
    const at = `publish.headers[${i}]`
    if (!isObject(rule) || !isObject(rule.headers)) throw invalid(at, "an object { match, headers }", { value: rule })
    const { match, matchers } = checkGlobs(`${at}.match`, rule.match)
    const headers: Record<string, string> = {}
    for (const [name, v] of Object.entries(rule.headers)) {
      const lower = name.toLowerCase()
      if (!HEADER_NAME_RE.test(name)) throw invalid(`${at}.headers`, 'valid HTTP header names', `got ${JSON.stringify(name)}`)
      if (RESERVED_HEADERS.has(lower) || lower.startsWith('x-amz-checksum-')) {
        throw invalid(`${at}.headers`, 'headers stored with an object', `got ${JSON.stringify(name)}, which the publish step sets itself`)
      }
      headers[lower] = checkHeaderValue(`${at}.headers[${JSON.stringify(name)}]`, v)
    }
    return { match, matchers, headers }
  })
}

function checkPrecompress(value: unknown): ResolvedPrecompress | false {
  if (value === undefined || value === false) return false
  const expected = "false, 'gzip', 'br', or { encoding: 'gzip' | 'br', include: ['**/*.js'] }"
  const encoding = isObject(value) ? value.encoding : value
  if (encoding !== 'gzip' && encoding !== 'br') throw invalid(isObject(value) ? 'publish.precompress.encoding' : 'publish.precompress', expected, { value: encoding })
  const include = isObject(value) && value.include !== undefined ? value.include : DEFAULT_PRECOMPRESS_INCLUDE
  const { match, matchers } = checkGlobs('publish.precompress.include', include)
  return { encoding, include: match, matchers }
}

function checkCacheControl(value: unknown): { immutable: string; mutable: string } {
  if (value === undefined) return { ...DEFAULT_CACHE_CONTROL }
  if (!isObject(value)) throw invalid('publish.cacheControl', "an object such as { immutable: 'public, max-age=31536000, immutable', mutable: 'no-cache' }", { value })
  for (const k of Object.keys(value)) {
    if (k !== 'immutable' && k !== 'mutable') throw invalid('publish.cacheControl', 'only the keys immutable and mutable', `got ${JSON.stringify(k)}`)
  }
  return {
    immutable: value.immutable === undefined ? DEFAULT_CACHE_CONTROL.immutable : checkHeaderValue('publish.cacheControl.immutable', value.immutable),
    mutable: value.mutable === undefined ? DEFAULT_CACHE_CONTROL.mutable : checkHeaderValue('publish.cacheControl.mutable', value.mutable),
  }
}

function checkKeys(options: Record<string, unknown>): void {
  for (const key of Object.keys(options)) {
    if (KNOWN_OPTIONS.has(key)) continue
    if (CREDENTIAL_OPTIONS.test(key)) {
      throw new CdnPublishError(
        Codes.INVALID_OPTION,
        `Invalid option \`publish.${key}\`: credentials are never options (they would end up in your repository). ` +
          'Remove it and provide credentials through the AWS SDK default provider chain: AWS_ACCESS_KEY_ID and ' +
          'AWS_SECRET_ACCESS_KEY in the environment, AWS_PROFILE, SSO, web identity (CI OIDC) or an instance role.',
        { option: `publish.${key}` },
      )
    }
    throw invalid(`publish.${key}`, `one of the known options (${[...KNOWN_OPTIONS].join(', ')})`, 'got an unknown option')
  }
}

/**
 * Validate and resolve the publish options against the environment. Precedence: explicit option >
 * environment (real environment > `.env` files) > default. Throws `CdnPublishError`
 * (`INVALID_OPTION`) naming the option or variable and the expected form.
 *
 * @param inheritedLabel the plugin's top-level `label`, used when `publish.label` is not set
 */
export function resolvePublishOptions(
  options: PublishOptions | undefined,
  env: PublishEnv = { process: process.env },
  inheritedLabel?: string,
): ResolvedPublishOptions {
  const o = (options ?? {}) as Record<string, unknown>
  if (!isObject(o)) throw invalid('publish', 'an object, or false', { value: options })
  checkKeys(o)

  const bucketR = stringOption('bucket', o.bucket, env, ENV_FOR.bucket)
  const prefixR = stringOption('prefix', o.prefix, env, ENV_FOR.prefix)
  const regionR = stringOption('region', o.region, env, ENV_FOR.region)
  const endpointR = stringOption('endpoint', o.endpoint, env, ENV_FOR.endpoint)
  const endpoint = checkEndpoint(endpointR)

  const pathStyleR = booleanOption('forcePathStyle', o.forcePathStyle, env, ENV_FOR.forcePathStyle[0])
  const forcePathStyle = pathStyleR.value ?? isLocalHost(endpoint)
  const dryRunR = booleanOption('dryRun', o.dryRun, env, ENV_FOR.dryRun[0])

  const labelR = stringOption('label', o.label, env, ENV_FOR.label)
  let label = labelR
  if (labelR.source !== 'option' && inheritedLabel !== undefined && inheritedLabel !== env.process.CDN_PUBLISH_LABEL) {
    label = { value: inheritedLabel, source: 'option label' }
  }

  const concurrency = o.concurrency ?? DEFAULT_CONCURRENCY
  if (typeof concurrency !== 'number' || !Number.isInteger(concurrency) || concurrency < 1 || concurrency > 128) {
    throw invalid('publish.concurrency', 'an integer from 1 to 128', { value: o.concurrency })
  }
  const sourcemaps = o.sourcemaps ?? 'publish'
  if (sourcemaps !== 'publish' && sourcemaps !== 'skip') throw invalid('publish.sourcemaps', "'publish' or 'skip'", { value: o.sourcemaps })
  const checksums = o.checksums ?? 'WHEN_REQUIRED'
  if (checksums !== 'WHEN_REQUIRED' && checksums !== 'WHEN_SUPPORTED') {
    throw invalid('publish.checksums', "'WHEN_REQUIRED' or 'WHEN_SUPPORTED'", { value: o.checksums })
  }

  const report = o.report
  if (report !== undefined && report !== false && (typeof report !== 'string' || report.trim() === '')) {
    throw invalid('publish.report', 'a file path, or false', { value: o.report })
  }

  return {
    bucket: checkBucket(bucketR),
    prefix: checkPrefix(prefixR),
    region: checkRegion(regionR),
    endpoint,
    forcePathStyle,
    concurrency,
    dryRun: dryRunR.value ?? false,
    label: label.value || undefined,
    cacheControl: checkCacheControl(o.cacheControl),
    headers: checkHeaders(o.headers),
    sourcemaps,
    precompress: checkPrecompress(o.precompress),
    checksums,
    report,
    sources: {
      bucket: bucketR.source,
      prefix: prefixR.source,
      region: regionR.source,
      endpoint: endpointR.source,
      forcePathStyle: pathStyleR.value === undefined && forcePathStyle ? 'default for a local endpoint' : pathStyleR.source,
      dryRun: dryRunR.source,
      label: label.source,
    },
  }
}


export { ENV_FOR, type SourcedOption, type ValueSource } from './env.js'
