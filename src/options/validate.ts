/**
 * The checks behind every option: each throws `CdnPublishError` (`INVALID_OPTION`) naming the
 * option (or the variable it came from) and the rule the value breaks.
 */
import { createRequire } from 'node:module'
import type Picomatch from 'picomatch'
import { CdnPublishError, Codes } from '../errors.js'
import { invalidEnv, type ValueSource } from './env.js'
import { DEFAULT_CACHE_CONTROL, DEFAULT_PRECOMPRESS_INCLUDE, type GlobMatcher, type ResolvedHeaderRule, type ResolvedPrecompress } from './types.js'

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Where a value came from, worded for a message about that value. */
export function origin(option: string, r: { source: ValueSource; envName?: string }): string {
  return r.source === 'option' ? `publish.${option}` : r.envName ?? option
}

export function invalid(option: string, expected: string, got?: { value: unknown } | string): CdnPublishError {
  const shown = got === undefined ? '' : typeof got === 'string' ? `, ${got}` : `, got ${JSON.stringify(got.value) ?? String(got.value)}`
  return new CdnPublishError(Codes.INVALID_OPTION, `Invalid option \`${option}\`: expected ${expected}${shown}.`, { option })
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
  'dir',
  'invalidate',
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

export function checkBucket(r: { value: string | undefined; source: ValueSource; envName?: string }): string | undefined {
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

export function checkPrefix(r: { value: string | undefined; source: ValueSource; envName?: string }): string {
  if (r.value === undefined) return ''
  const p = normalizePrefix(r.value)
  if (p === undefined) {
    const expected = "a key prefix such as 'assets/' or 'site/v2/' (no empty, '.' or '..' segments, no backslashes)"
    throw r.source === 'option' ? invalid('publish.prefix', expected, { value: r.value }) : invalidEnv(r.envName!, r.source, expected, r.value)
  }
  return p
}

export function checkEndpoint(r: { value: string | undefined; source: ValueSource; envName?: string }): string | undefined {
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

export function checkRegion(r: { value: string | undefined; source: ValueSource; envName?: string }): string | undefined {
  if (r.value === undefined) return undefined
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(r.value)) {
    const expected = "a region name such as 'eu-west-1' or 'auto'"
    throw r.source === 'option' ? invalid('publish.region', expected, { value: r.value }) : invalidEnv(r.envName!, r.source, expected, r.value)
  }
  return r.value
}

export function isLocalHost(endpoint: string | undefined): boolean {
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

/** picomatch, loaded by the first glob an option names (most builds name none). */
let picomatch: typeof Picomatch | undefined
const loadPicomatch = () => (picomatch ??= createRequire(import.meta.url)('picomatch') as typeof Picomatch)

/** The globs' picomatch options: dotfiles match like other files, and `\` escapes on every OS (paths are `/`-separated). */
const GLOB_OPTIONS = { dot: true, windows: false, strictBrackets: true, debug: true } as const
const OPENER: Record<string, string> = { '}': '{', ']': '[', ')': '(' }
const CLOSER: Record<string, string> = { '{': '}', '[': ']', '(': ')' }

/**
 * Compile a glob (picomatch syntax, `dot: true`) matched against whole paths relative to the
 * output directory; a leading `/` or `./` is ignored. Throws `Error` saying what is broken and how
 * to fix it for a pattern that is malformed: an unbalanced bracket, brace or parenthesis, or a
 * trailing lone `\`.
 */
export function compileGlob(pattern: string): GlobMatcher {
  const broken = unbalanced(pattern)
  if (broken) throw new Error(broken)
  try {
    return loadPicomatch()(pattern.replace(/^\.?\/+/, ''), GLOB_OPTIONS)
  } catch (e) {
    const m = /^Missing (opening|closing): "(.)"/.exec((e as Error).message)
    if (!m) throw new Error(`cannot be compiled (${(e as Error).message})`)
    const [open, close] = m[1] === 'closing' ? [OPENER[m[2]] ?? m[2], m[2]] : [m[2], CLOSER[m[2]] ?? m[2]]
    throw new Error(
      m[1] === 'closing'
        ? `has a "${open}" without a matching "${close}": close it, or write "\\${open}" for a literal "${open}"`
        : `has a "${close}" without a matching "${open}": write "\\${close}" for a literal "${close}"`,
    )
  }
}

/** What picomatch's `strictBrackets` lets through: a stray `}` (it would match literally) and a trailing lone `\` (it would match nothing). */
function unbalanced(pattern: string): string | undefined {
  let depth = 0
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === '\\') {
      if (++i === pattern.length) return 'ends with a lone "\\": remove it, or write "\\\\" for a literal "\\"'
    } else if (c === '{') depth++
    else if (c === '}' && --depth < 0) return 'has a "}" without a matching "{": write "\\}" for a literal "}"'
  }
  return undefined
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
      throw invalid(option, "globs in picomatch syntax such as '**/*.{js,css}'", `got ${JSON.stringify(g)}, which ${(e as Error).message}`)
    }
  })
  return { match: list as string[], matchers }
}

export function checkHeaders(value: unknown): ResolvedHeaderRule[] {
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

export function checkPrecompress(value: unknown): ResolvedPrecompress | false {
  if (value === undefined || value === false) return false
  const expected = "false, 'gzip', 'br', or { encoding: 'gzip' | 'br', include: ['**/*.js'] }"
  const encoding = isObject(value) ? value.encoding : value
  if (encoding !== 'gzip' && encoding !== 'br') throw invalid(isObject(value) ? 'publish.precompress.encoding' : 'publish.precompress', expected, { value: encoding })
  const include = isObject(value) && value.include !== undefined ? value.include : DEFAULT_PRECOMPRESS_INCLUDE
  const { match, matchers } = checkGlobs('publish.precompress.include', include)
  return { encoding, include: match, matchers }
}

export function checkCacheControl(value: unknown): { immutable: string; mutable: string } {
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

export function checkKeys(options: Record<string, unknown>): void {
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
