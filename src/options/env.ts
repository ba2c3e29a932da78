/**
 * The environment the publish options are read from: the real environment, and the `.env`,
 * `.env.local`, `.env.[mode]` and `.env.[mode].local` files of the project (the files Vite reads,
 * in Vite's order: a later file wins, the real environment wins over all). Only the variables the
 * publish step reads are taken from the files; credentials in `.env` files are never used.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { parseEnv } from 'node:util'
import { CdnPublishError, Codes } from '../errors.js'

/** Where a value came from: `option`, `env NAME`, `.env file NAME`, `default`, … */
export type ValueSource = string

/** The environment the publish options are resolved against. */
export interface PublishEnv {
  /** The real environment (`process.env`); wins over `files`. */
  process: Record<string, string | undefined>
  /** Variables read from Vite's `.env` files. */
  files?: Record<string, string | undefined>
}

/** Names of the variables the publish step reads (from the environment and from `.env` files). */
export const ENV_NAMES = [
  'CDN_PUBLISH_BUCKET',
  'CDN_PUBLISH_PREFIX',
  'CDN_PUBLISH_REGION',
  'CDN_PUBLISH_ENDPOINT',
  'CDN_PUBLISH_FORCE_PATH_STYLE',
  'CDN_PUBLISH_DRY_RUN',
  'CDN_PUBLISH_LABEL',
  'CDN_PUBLISH_CLOUDFRONT_DISTRIBUTION',
  'CDN_PUBLISH_CLOUDFRONT_ENDPOINT',
  'AWS_REGION',
  'AWS_ENDPOINT_URL_S3',
  'AWS_ENDPOINT_URL',
] as const

/** The options that can come from the environment; the report shows each one's source. */
export type SourcedOption = 'bucket' | 'prefix' | 'region' | 'endpoint' | 'forcePathStyle' | 'dryRun' | 'label'

export type EnvName = (typeof ENV_NAMES)[number]

/** The environment variables of each option that can come from the environment, first match wins. */
export const ENV_FOR: Readonly<Record<SourcedOption, readonly EnvName[]>> = {
  bucket: ['CDN_PUBLISH_BUCKET'],
  prefix: ['CDN_PUBLISH_PREFIX'],
  region: ['CDN_PUBLISH_REGION', 'AWS_REGION'],
  endpoint: ['CDN_PUBLISH_ENDPOINT', 'AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL'],
  forcePathStyle: ['CDN_PUBLISH_FORCE_PATH_STYLE'],
  dryRun: ['CDN_PUBLISH_DRY_RUN'],
  label: ['CDN_PUBLISH_LABEL'],
}

export function invalidEnv(name: string, source: ValueSource, expected: string, value: string): CdnPublishError {
  const where = source.startsWith('.env') ? ' (read from a .env file)' : ''
  return new CdnPublishError(
    Codes.INVALID_OPTION,
    `Invalid environment variable ${name}${where}: expected ${expected}, got ${JSON.stringify(value)}.`,
    { option: name },
  )
}

/** An environment lookup that remembers where the value came from. Empty values count as unset. */
export function lookup(env: PublishEnv, name: EnvName): { value: string; source: ValueSource } | undefined {
  const real = env.process[name]
  if (real !== undefined && real !== '') return { value: real, source: `env ${name}` }
  const file = real === undefined ? env.files?.[name] : undefined
  if (file !== undefined && file !== '') return { value: file, source: `.env file ${name}` }
  return undefined
}

export function firstEnv(env: PublishEnv, names: readonly EnvName[]) {
  for (const n of names) {
    const hit = lookup(env, n)
    if (hit) return { ...hit, name: n }
  }
  return undefined
}

const TRUE = new Set(['1', 'true', 'yes', 'on'])
const FALSE = new Set(['0', 'false', 'no', 'off'])

export function parseBool(name: string, source: ValueSource, value: string): boolean {
  const v = value.trim().toLowerCase()
  if (TRUE.has(v)) return true
  if (FALSE.has(v)) return false
  throw invalidEnv(name, source, 'true or false (also 1/0, yes/no, on/off)', value)
}


/** Where a project's `.env` files are, as far as loading them needs (Vite's resolved config fits). */
export interface EnvConfig {
  mode: string
  root: string
  /** Vite's `envDir` (default: `root`); `false` loads no `.env` file. */
  envDir?: string | false | undefined
}

/**
 * The publish variables set by the project's `.env` files for `mode`. `$NAME` and `${NAME}` are
 * expanded from the files and the real environment, as Vite expands them. A file that cannot be
 * parsed is an error naming it. Without a project (plain Rollup) there are none.
 */
export function loadEnvFiles(config: EnvConfig | undefined): Record<string, string> {
  if (!config || config.envDir === false) return {}
  const dir = path.resolve(config.root, config.envDir ?? '')
  const merged: Record<string, string> = {}
  for (const name of ['.env', '.env.local', `.env.${config.mode}`, `.env.${config.mode}.local`]) {
    const file = path.join(dir, name)
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue
    }
    try {
      Object.assign(merged, parseEnv(text))
    } catch (err) {
      throw new CdnPublishError(Codes.INVALID_OPTION, `Could not read ${file}: ${(err as Error).message}. Fix the file, or set the variable in the environment.`)
    }
  }
  const out: Record<string, string> = {}
  for (const name of ENV_NAMES) {
    const value = merged[name]
    if (value !== undefined && process.env[name] === undefined) out[name] = expand(value, merged)
  }
  return out
}

/** `$NAME` / `${NAME}` from the real environment first, then the files; `\$` is a literal `$`. */
function expand(value: string, files: Record<string, string>): string {
  return value.replace(/\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, braced?: string, bare?: string) => {
    const name = braced ?? bare
    if (name === undefined) return '$'
    return process.env[name] ?? files[name] ?? ''
  })
}
