/** The build-side options, checked and with defaults applied. */
import { parseDuration } from '../util/duration.js'
import type { CdnPublishOptions, FingerprintOptions, ResolvedBuildOptions, ResolvedSkewGuard, SkewGuardOptions } from './types.js'
import { invalid, isObject } from './validate.js'

/** Validate and normalise the build-side options. Throws `CdnPublishError` (`INVALID_OPTION`). */
export function resolveBuildOptions(options: CdnPublishOptions = {}, env: Record<string, string | undefined> = process.env): ResolvedBuildOptions {
  if (!isObject(options)) throw invalid('options', 'an object', { value: options })
  const fp: FingerprintOptions = options.fingerprint ?? {}
  if (!isObject(fp)) throw invalid('fingerprint', 'an object such as { public: false }', { value: fp })
  if (fp.public !== undefined && typeof fp.public !== 'boolean') throw invalid('fingerprint.public', 'a boolean', { value: fp.public })
  const hashLength = fp.hashLength ?? 8
  if (typeof hashLength !== 'number' || !Number.isInteger(hashLength) || hashLength < 8 || hashLength > 43) throw invalid('fingerprint.hashLength', 'an integer from 8 to 43', { value: fp.hashLength })
  const manifest = options.manifest ?? 'cdn-manifest.json'
  if (manifest !== false && (typeof manifest !== 'string' || manifest === '' || manifest.startsWith('/') || manifest.split('/').includes('..')))
    throw invalid('manifest', 'a file name relative to the output directory, or false', { value: options.manifest })
  if (options.strict !== undefined && typeof options.strict !== 'boolean') throw invalid('strict', 'a boolean', { value: options.strict })
  const publicDir = options.publicDir ?? false
  if (publicDir !== false && (typeof publicDir !== 'string' || publicDir === '')) throw invalid('publicDir', 'a directory path, or false', { value: options.publicDir })
  const base = options.base ?? '/'
  if (typeof base !== 'string') throw invalid('base', "a URL prefix such as '/' or 'https://cdn.example.com/'", { value: options.base })
  const label = options.label ?? env.CDN_PUBLISH_LABEL ?? undefined
  if (label !== undefined && typeof label !== 'string') throw invalid('label', 'a string', { value: options.label })
  if (options.sri !== undefined && typeof options.sri !== 'boolean') throw invalid('sri', 'a boolean', { value: options.sri })
  const skewGuard = resolveSkewGuard(options.skewGuard)
  return { sri: options.sri ?? false, skewGuard, fingerprintPublic: fp.public ?? true, hashLength, manifest, strict: options.strict ?? false, publicDir, base, label: label || undefined }
}

function resolveSkewGuard(value: unknown): ResolvedSkewGuard | false {
  if (value === undefined || value === false) return false
  if (value === true) return { reload: true, pollMs: false }
  if (!isObject(value)) throw invalid('skewGuard', "true, false, or an object such as { poll: '5m' }", { value })
  const unknown = Object.keys(value).find((k) => k !== 'reload' && k !== 'poll')
  if (unknown !== undefined) throw invalid(`skewGuard.${unknown}`, 'one of the known options (reload, poll)', 'got an unknown option')
  const { reload, poll: given } = value as SkewGuardOptions
  if (reload !== undefined && typeof reload !== 'boolean') throw invalid('skewGuard.reload', 'a boolean', { value: reload })
  const poll = given ?? false
  if (poll !== false && typeof poll !== 'string') throw invalid('skewGuard.poll', "a duration such as '5m', or false", { value: given })
  const pollMs = poll === false ? false : parseDuration(poll, 'skewGuard.poll')
  if (pollMs !== false && pollMs < 10_000) throw invalid('skewGuard.poll', "a duration of at least '10s' (every page asks once per period)", { value: poll })
  return { reload: reload ?? true, pollMs }
}
