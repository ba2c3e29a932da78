import { CdnPublishError, Codes } from '../errors.js'
import type { PublishOptions } from './publish.js'
import type { RetentionOptions } from './retention.js'

/** Options of the build-side fingerprinting. */
export interface FingerprintOptions {
  /**
   * Copy files of Vite's `public/` directory that CSS or HTML references to content-hashed names
   * (`img/logo.png` → `img/logo-<hash>.png`) and rewrite the references. The unhashed copy stays.
   * @default true
   */
  public?: boolean
  /**
   * Length of the content hash this plugin puts in the names it gives (base64url characters of a
   * SHA-256). Files the bundler names keep the bundler's hash length.
   * @default 8
   */
  hashLength?: number
}

/** Options of `cdnPublish()`. */
export interface CdnPublishOptions {
  /** Fingerprinting of files the bundler does not hash itself. */
  fingerprint?: FingerprintOptions
  /**
   * File name of the stable manifest written into the output directory, overwritten by each build;
   * `false` writes none.
   * @default 'cdn-manifest.json'
   */
  manifest?: string | false
  /**
   * Turn a CSS reference to a file that exists nowhere (`CSS_URL_UNRESOLVED`) from a warning into
   * an error that fails the build.
   * @default false
   */
  strict?: boolean
  /**
   * Directory of static files served as they are, for plain Rollup builds. Under Vite, Vite's own
   * `publicDir` is used and this option is ignored.
   * @default undefined (none)
   */
  publicDir?: string | false
  /**
   * Public URL prefix the output is served from, for plain Rollup builds. Under Vite, Vite's
   * `base` is used and this option is ignored.
   * @default '/'
   */
  base?: string
  /**
   * Free text stored in the manifest and the release record (for example a commit id).
   * Can also be set with the `CDN_PUBLISH_LABEL` environment variable.
   * @default undefined
   */
  label?: string
  /**
   * Publish the output to an S3-compatible bucket after the build (see "Publishing" in the
   * README). Publishing happens only when a bucket is configured here or in `CDN_PUBLISH_BUCKET`;
   * `false` turns it off entirely.
   * @default {}
   */
  publish?: PublishOptions | false
  /**
   * Pruning of old releases after each publish (see "Retention" in the README): the current
   * release, the `releases − 1` before it, any release younger than `minAge` and any replaced less
   * than `grace` ago are kept, with every file they name; `false` never deletes anything.
   * @default { releases: 3, minAge: '1h', grace: '48h', orphans: 'keep' }
   */
  retention?: RetentionOptions | false
}

export interface ResolvedBuildOptions {
  fingerprintPublic: boolean
  hashLength: number
  manifest: string | false
  strict: boolean
  publicDir: string | false
  base: string
  label: string | undefined
}

function invalid(option: string, expected: string, got: unknown): CdnPublishError {
  return new CdnPublishError(
    Codes.INVALID_OPTION,
    `Invalid option \`${option}\`: expected ${expected}, got ${JSON.stringify(got) ?? String(got)}.`,
    { option },
  )
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Validate and normalise the build-side options. Throws `CdnPublishError` (`INVALID_OPTION`). */
export function resolveBuildOptions(options: CdnPublishOptions = {}, env: Record<string, string | undefined> = process.env): ResolvedBuildOptions {
  if (!isObject(options)) throw invalid('options', 'an object', options)
  const fp: FingerprintOptions = options.fingerprint ?? {}
  if (!isObject(fp)) throw invalid('fingerprint', 'an object such as { public: false }', fp)
  if (fp.public !== undefined && typeof fp.public !== 'boolean') throw invalid('fingerprint.public', 'a boolean', fp.public)
  const hashLength = fp.hashLength ?? 8
  if (typeof hashLength !== 'number' || !Number.isInteger(hashLength) || hashLength < 8 || hashLength > 43) throw invalid('fingerprint.hashLength', 'an integer from 8 to 43', fp.hashLength)
  const manifest = options.manifest ?? 'cdn-manifest.json'
  if (manifest !== false && (typeof manifest !== 'string' || manifest === '' || manifest.startsWith('/') || manifest.split('/').includes('..')))
    throw invalid('manifest', 'a file name relative to the output directory, or false', options.manifest)
  if (options.strict !== undefined && typeof options.strict !== 'boolean') throw invalid('strict', 'a boolean', options.strict)
  const publicDir = options.publicDir ?? false
  if (publicDir !== false && (typeof publicDir !== 'string' || publicDir === '')) throw invalid('publicDir', 'a directory path, or false', options.publicDir)
  const base = options.base ?? '/'
  if (typeof base !== 'string') throw invalid('base', "a URL prefix such as '/' or 'https://cdn.example.com/'", options.base)
  const label = options.label ?? env.CDN_PUBLISH_LABEL ?? undefined
  if (label !== undefined && typeof label !== 'string') throw invalid('label', 'a string', options.label)
  return { fingerprintPublic: fp.public ?? true, hashLength, manifest, strict: options.strict ?? false, publicDir, base, label: label || undefined }
}
