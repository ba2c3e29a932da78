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
    dir,
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
