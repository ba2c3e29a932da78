/**
 * Where the CLI's options come from: the `--config` file (a .json, .js or .mjs file with
 * { publish, retention, manifest, fingerprint, sri, skewGuard }), and the precedence flags > environment > config file > defaults.
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { ENV_FOR, type SourcedOption } from '../options/env.js'
import { resolvePublishOptions } from '../options/publish.js'
import { type PublishOptions, type ResolvedPublishOptions } from '../options/types.js'
import type { CdnPublishOptions, FingerprintOptions } from '../options/types.js'
import { resolveRetention } from '../options/retention.js'
import { type ResolvedRetention, type RetentionOptions } from '../options/types.js'
import { asFlagError, integerFlag, UsageError, type Flags } from './args.js'

/** What a config file may hold. */
export interface ConfigFile {
  publish?: PublishOptions
  /** Only what the directory pass reads: `public` and `hashLength`. */
  fingerprint?: FingerprintOptions
  retention?: RetentionOptions | false
  manifest?: string
  /** Integrity attributes on the scripts and stylesheets of pages the directory pass handles. */
  sri?: boolean
  /** The runtime skew guard on the pages the directory pass handles (all of them). */
  skewGuard?: CdnPublishOptions['skewGuard']
  /** The file's name, for the sources the start line shows (set by `loadConfig`). */
  name?: string
}

const CONFIG_KEYS = ['publish', 'retention', 'manifest', 'fingerprint', 'sri', 'skewGuard']

export async function loadConfig(file: string | undefined): Promise<ConfigFile> {
  if (file === undefined) return {}
  const abs = path.resolve(file)
  if (!existsSync(abs)) throw new UsageError(`--config ${file}: no such file`)
  let value: unknown
  try {
    value = /\.json$/i.test(abs) ? JSON.parse(readFileSync(abs, 'utf8')) : ((await import(pathToFileURL(abs).href)) as { default?: unknown }).default
  } catch (err) {
    throw new UsageError(`--config ${file}: cannot be read (${(err as Error).message})`)
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError(`--config ${file}: expected an object such as { publish: { bucket: 'my-site' }, retention: { releases: 5 } }`)
  }
  const unknown = Object.keys(value).filter((k) => !CONFIG_KEYS.includes(k))
  if (unknown.length) throw new UsageError(`--config ${file}: unknown key ${JSON.stringify(unknown[0])} (known: ${CONFIG_KEYS.join(', ')})`)
  const c = value as ConfigFile
  if (c.manifest !== undefined && typeof c.manifest !== 'string') throw new UsageError(`--config ${file}: manifest must be a file name`)
  const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v)
  if (c.publish !== undefined && !isObject(c.publish)) throw new UsageError(`--config ${file}: publish must be an object such as { "bucket": "my-site" }`)
  if (c.retention !== undefined && c.retention !== false && !isObject(c.retention)) {
    throw new UsageError(`--config ${file}: retention must be an object such as { "releases": 5 }, or false`)
  }
  return { ...c, name: path.basename(abs) }
}

/** Flags > environment > config file > defaults, with each value's source as the start line shows it. */
export function resolveOptions(flags: Flags, config: ConfigFile): ResolvedPublishOptions {
  const fromConfig = (config.publish ?? {}) as Record<string, unknown>
  const fromFlags: Record<string, unknown> = {}
  if (flags.bucket !== undefined) fromFlags.bucket = flags.bucket
  if (flags.prefix !== undefined) fromFlags.prefix = flags.prefix
  if (flags.region !== undefined) fromFlags.region = flags.region
  if (flags.endpoint !== undefined) fromFlags.endpoint = flags.endpoint
  if (flags['force-path-style'] !== undefined) fromFlags.forcePathStyle = flags['force-path-style']
  if (flags['dry-run'] !== undefined) fromFlags.dryRun = flags['dry-run']
  if (flags.label !== undefined) fromFlags.label = flags.label
  if (flags.concurrency !== undefined) fromFlags.concurrency = integerFlag('concurrency', flags.concurrency)

  // a config file value counts only where neither a flag nor the environment gives one
  const merged: Record<string, unknown> = { ...fromConfig }
  const fromFile = new Set<SourcedOption>()
  for (const [option, names] of Object.entries(ENV_FOR) as [SourcedOption, readonly string[]][]) {
    if (fromConfig[option] === undefined) continue
    if (names.some((n) => process.env[n] !== undefined && process.env[n] !== '')) delete merged[option]
    else fromFile.add(option)
  }
  Object.assign(merged, fromFlags)
  for (const k of Object.keys(fromFlags)) fromFile.delete(k as SourcedOption)
  const resolved = asFlagError(() => resolvePublishOptions(merged as PublishOptions, { process: process.env }), fromFlags, 'publish.')
  for (const k of fromFile) resolved.sources[k] = `config file ${config.name}`
  for (const k of Object.keys(fromFlags)) if (k in resolved.sources) resolved.sources[k as SourcedOption] = 'flag'
  return resolved
}

export function resolveRetentionFlags(flags: Flags, config: RetentionOptions | false | undefined): ResolvedRetention | false {
  const fromFlags: Record<string, unknown> = {}
  if (flags.releases !== undefined) fromFlags.releases = integerFlag('releases', flags.releases)
  if (flags['min-age'] !== undefined) fromFlags.minAge = flags['min-age']
  if (flags.grace !== undefined) fromFlags.grace = flags.grace
  if (flags.orphans !== undefined) fromFlags.orphans = flags.orphans
  if (flags['allow-root-prefix'] !== undefined) fromFlags.allowRootPrefix = flags['allow-root-prefix']
  // `retention: false` in the config file holds unless a retention flag asks for pruning
  if (config === false && Object.keys(fromFlags).length === 0) return false
  return asFlagError(() => resolveRetention({ ...(config || {}), ...fromFlags } as RetentionOptions), fromFlags, 'retention.')
}
