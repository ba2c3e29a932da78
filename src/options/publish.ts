/**
 * The publish options resolved against the environment: option > environment variable (the real
 * environment > `.env` files) > default, with the source of each value.
 */
import { ENV_FOR, firstEnv, lookup, parseBool, type EnvName, type PublishEnv, type ValueSource } from './env.js'
import { DEFAULT_CONCURRENCY, type PublishOptions, type ResolvedPublishOptions } from './types.js'
import { checkBucket, checkCacheControl, checkEndpoint, checkHeaders, checkKeys, checkPrecompress, checkPrefix, checkRegion, invalid, isLocalHost, isObject } from './validate.js'

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

  const dir = o.dir
  if (dir !== undefined && (typeof dir !== 'string' || dir.trim() === '')) throw invalid('publish.dir', 'a directory path', { value: o.dir })

  const bucket = checkBucket(bucketR)
  return {
    bucket,
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
    dir,
    invalidate: resolveInvalidate(o.invalidate, env, bucket !== undefined),
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

const WAIT_DEFAULT_MS = 600_000

/** `publish.invalidate`, with the distribution and CloudFront's endpoint from the environment. */
function resolveInvalidate(value: unknown, env: PublishEnv, publishing: boolean): ResolvedPublishOptions['invalidate'] {
  if (value !== undefined && !isObject(value)) throw invalid('publish.invalidate', "an object such as { cloudfront: { originPath: '/static' } }", { value })
  const unknown = Object.keys(value ?? {}).find((k) => k !== 'cloudfront')
  if (unknown !== undefined) throw invalid(`publish.invalidate.${unknown}`, 'a known CDN (cloudfront)', 'got an unknown option')
  const cf = (value as { cloudfront?: unknown } | undefined)?.cloudfront
  if (cf !== undefined && !isObject(cf)) throw invalid('publish.invalidate.cloudfront', "an object such as { originPath: '/static', wait: true }", { value: cf })
  const o = (cf ?? {}) as Record<string, unknown>
  const other = Object.keys(o).find((k) => !['distributionId', 'originPath', 'paths', 'wait'].includes(k))
  if (other !== undefined) throw invalid(`publish.invalidate.cloudfront.${other}`, 'one of distributionId, originPath, paths, wait', 'got an unknown option')
  const id = stringOption('invalidate.cloudfront.distributionId', o.distributionId, env, ['CDN_PUBLISH_CLOUDFRONT_DISTRIBUTION'])
  if (id.value === undefined) {
    if (cf !== undefined && publishing) {
      throw invalid('publish.invalidate.cloudfront.distributionId', 'the id of the distribution (here or in CDN_PUBLISH_CLOUDFRONT_DISTRIBUTION)', 'got none')
    }
    return undefined
  }
  if (!/^[A-Za-z0-9]{1,64}$/.test(id.value)) {
    throw invalid(id.envName ?? 'publish.invalidate.cloudfront.distributionId', 'a CloudFront distribution id such as E2QWRUHAPOMQZL', { value: id.value })
  }
  const originPath = o.originPath ?? ''
  if (typeof originPath !== 'string' || (originPath !== '' && (!originPath.startsWith('/') || originPath.endsWith('/')))) {
    throw invalid('publish.invalidate.cloudfront.originPath', "'' or a path such as '/static' (as the distribution's origin settings say it)", { value: o.originPath })
  }
  const paths = o.paths
  if (paths !== undefined && (!Array.isArray(paths) || paths.length === 0 || paths.some((p) => typeof p !== 'string' || !p.startsWith('/')))) {
    throw invalid('publish.invalidate.cloudfront.paths', "a list of URL paths starting with '/', such as ['/*']", { value: paths })
  }
  const wait = o.wait ?? false
  if (typeof wait !== 'boolean' && (typeof wait !== 'number' || !(wait > 0) || wait > 3600)) {
    throw invalid('publish.invalidate.cloudfront.wait', 'true, false, or the most seconds to wait (at most 3600)', { value: o.wait })
  }
  const endpoint = firstEnv(env, ['CDN_PUBLISH_CLOUDFRONT_ENDPOINT'])?.value
  return {
    cloudfront: {
      distributionId: id.value,
      originPath,
      paths: paths as string[] | undefined,
      waitMs: wait === true ? WAIT_DEFAULT_MS : wait === false ? 0 : Math.round(wait * 1000),
      endpoint: endpoint === undefined ? undefined : checkEndpoint({ value: endpoint, source: 'env', envName: 'CDN_PUBLISH_CLOUDFRONT_ENDPOINT' }),
    },
  }
}
