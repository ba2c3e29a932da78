#!/usr/bin/env node
/**
 * `cdn-publish`: the publish side of the plugin for CI steps around a rolling deploy.
 *
 *   cdn-publish status            releases, current, sizes, what a prune would do now
 *   cdn-publish publish <dir>     publish a built output directory (then prune)
 *   cdn-publish prune             delete what the retention policy no longer keeps
 *   cdn-publish rollback <id>     point the stable manifest back at a retained release
 *
 * Configuration: flags > CDN_PUBLISH_* environment variables > a config file (`--config`) >
 * defaults. Credentials come from the AWS SDK's default provider chain only.
 * Exit codes: 0 done, 1 failed, 2 usage (unknown command or flag, invalid option).
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { CdnPublishError, Codes } from '../errors.js'
import { readBucketState } from '../bucket/state.js'
import { runDeploy } from '../deploy/deploy.js'
import { ENV_FOR, resolvePublishOptions, type PublishOptions, type ResolvedPublishOptions, type SourcedOption } from '../options/publish.js'
import { formatBytes, type PublishLogger } from '../log.js'
import type { ReleaseRecord } from '../bucket/record.js'
import { openStore } from '../bucket/open.js'
import { runRollback } from '../rollback.js'
import { endpointLabel, type PublishRunOptions } from '../publish/run.js'
import { formatDuration } from '../util/duration.js'
import { resolveRetention, type ResolvedRetention, type RetentionOptions } from '../options/retention.js'
import { planPrune } from '../retention/policy.js'
import { policyInput, pruneSummary, runPrune } from '../retention/prune.js'

const DEFAULT_MANIFEST = 'cdn-manifest.json'

const COMMON_HELP = `Bucket and credentials:
  --bucket <name>          bucket (env CDN_PUBLISH_BUCKET)
  --prefix <prefix>        key prefix, such as 'static/' (env CDN_PUBLISH_PREFIX)
  --region <region>        region (env CDN_PUBLISH_REGION, then AWS_REGION)
  --endpoint <url>         S3-compatible endpoint (env CDN_PUBLISH_ENDPOINT, then AWS_ENDPOINT_URL_S3)
  --force-path-style       address buckets as endpoint/bucket (env CDN_PUBLISH_FORCE_PATH_STYLE)
  --manifest <name>        stable manifest's name (default ${DEFAULT_MANIFEST})
  --config <file>          a .json, .js or .mjs file with { publish, retention, manifest }
  Credentials: the AWS SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE,
  SSO, web identity, instance role). Precedence: flags > environment > config file > defaults.`

const RETENTION_HELP = `Retention (defaults: --releases 3 --min-age 1h --grace 48h --orphans keep):
  --releases <n>           keep the current release and the n-1 before it
  --min-age <duration>     keep any release published less than this ago ('90s', '15m', '1h', '2d')
  --grace <duration>       keep a release until this long after it was replaced
  --orphans keep|delete    objects no release names: keep, or delete once older than grace
  --allow-root-prefix      allow pruning with an empty prefix (the bucket is this site's alone)`

const HELP: Record<string, string> = {
  main: `Usage: cdn-publish <command> [options]

Commands:
  status                   releases (id, label, state, published, replaced, files, bytes, kept or why not)
                           and what a prune would delete now
  publish <dir>            publish a built output directory that has a ${DEFAULT_MANIFEST}, then prune
  prune                    delete the files and records of releases the retention policy no longer keeps
  rollback <release>       point the stable manifest and mutable files back at a retained release

Run cdn-publish <command> --help for the options of a command.
Exit codes: 0 done, 1 failed, 2 usage error.`,
  status: `Usage: cdn-publish status [options]

Lists the releases under the prefix with their state and sizes, why each is kept or not, and
what a prune would delete now. Reads only.

  --json                   print a JSON document instead of a table

${RETENTION_HELP}

${COMMON_HELP}`,
  publish: `Usage: cdn-publish publish <dir> [options]

Publishes the output directory <dir> of a build made with the plugin (it has ${DEFAULT_MANIFEST}):
the release record, fingerprinted files, other files, then the stable manifest. Then prunes.

  --dry-run                print the plan (uploads, skips, deletions with reasons), write nothing
  --label <text>           label stored with the release (env CDN_PUBLISH_LABEL)
  --concurrency <n>        uploads in flight (default 8)
  --no-prune               publish only

${RETENTION_HELP}

${COMMON_HELP}`,
  prune: `Usage: cdn-publish prune [options]

Deletes the files of releases that the retention policy no longer keeps, never a file a kept
release names, never anything outside the prefix.

  --dry-run                print the plan with a reason for every decision, delete nothing

${RETENTION_HELP}

${COMMON_HELP}`,
  rollback: `Usage: cdn-publish rollback <release> [options]

Restores the stable manifest and the mutable files (index.html, …) of a retained release and makes
it current. Refuses a release whose files are no longer all in the bucket, naming them. <release>
may be a unique prefix of the id (cdn-publish status lists them).

  --dry-run                print what would be restored, write nothing

${COMMON_HELP}`,
}

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  bucket: { type: 'string' },
  prefix: { type: 'string' },
  region: { type: 'string' },
  endpoint: { type: 'string' },
  'force-path-style': { type: 'boolean' },
  manifest: { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  label: { type: 'string' },
  concurrency: { type: 'string' },
  'no-prune': { type: 'boolean' },
  releases: { type: 'string' },
  'min-age': { type: 'string' },
  grace: { type: 'string' },
  orphans: { type: 'string' },
  'allow-root-prefix': { type: 'boolean' },
} satisfies ParseArgsConfig['options']

/** Flags each command accepts besides the common ones. */
const COMMON = ['help', 'bucket', 'prefix', 'region', 'endpoint', 'force-path-style', 'manifest', 'config']
const RETENTION = ['releases', 'min-age', 'grace', 'orphans', 'allow-root-prefix']
const ACCEPTS: Record<string, string[]> = {
  status: [...COMMON, ...RETENTION, 'json'],
  publish: [...COMMON, ...RETENTION, 'dry-run', 'label', 'concurrency', 'no-prune'],
  prune: [...COMMON, ...RETENTION, 'dry-run'],
  rollback: [...COMMON, 'dry-run'],
}
const POSITIONALS: Record<string, string | undefined> = { status: undefined, publish: '<dir>', prune: undefined, rollback: '<release>' }

type Flags = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string }

class UsageError extends Error {}

/** What a config file may hold. */
interface ConfigFile {
  publish?: PublishOptions
  retention?: RetentionOptions | false
  manifest?: string
  /** The file's name, for the sources the start line shows (set by `loadConfig`). */
  name?: string
}

interface Io {
  out(text: string): void
  err(text: string): void
}

export async function main(argv: string[], io: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) }): Promise<number> {
  if (argv[0] === 'help' && argv[1] !== undefined && ACCEPTS[argv[1]]) argv = [argv[1], '--help']
  // the command may follow flags: `cdn-publish --bucket b status`
  const at = argv[0]?.startsWith('-') ? argv.findIndex((a) => ACCEPTS[a] !== undefined) : 0
  const command = at > 0 ? argv[at] : argv[0]
  const rest = at > 0 ? [...argv.slice(0, at), ...argv.slice(at + 1)] : argv.slice(1)
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.out(`${HELP.main}\n`)
    return command === undefined ? 2 : 0
  }
  if (!ACCEPTS[command]) {
    io.err(`cdn-publish: unknown command "${command}"\n\n${HELP.main}\n`)
    return 2
  }
  let flags: Flags
  let positionals: string[]
  try {
    ;({ values: flags, positionals } = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true, strict: true }) as { values: Flags; positionals: string[] })
    const wrong = Object.keys(flags).filter((f) => !ACCEPTS[command].includes(f))
    if (wrong.length) throw new UsageError(`${command} does not take --${wrong[0]}`)
  } catch (err) {
    const message = (err as Error).message.replace(/^.*?Unknown option '([^']+)'.*$/s, "unknown option '$1'")
    io.err(`cdn-publish ${command}: ${message}\nRun cdn-publish ${command} --help for its options.\n`)
    return 2
  }
  if (flags.help) {
    io.out(`${HELP[command]}\n`)
    return 0
  }
  const wants = POSITIONALS[command]
  if ((wants === undefined && positionals.length > 0) || (wants !== undefined && positionals.length !== 1)) {
    io.err(`cdn-publish ${command}: ${wants ? `expects one argument ${wants}` : `takes no arguments (got ${positionals.join(' ')})`}\nRun cdn-publish ${command} --help for its options.\n`)
    return 2
  }

  const logger = createLogger(io)
  try {
    const config = await loadConfig(flags.config)
    const manifest = flags.manifest ?? config.manifest ?? DEFAULT_MANIFEST
    const options = resolveOptions(flags, config)
    const retention = command === 'rollback' ? false : resolveRetentionFlags(flags, config.retention)
    if (options.bucket === undefined) {
      throw new UsageError('no bucket: pass --bucket, set CDN_PUBLISH_BUCKET, or set publish.bucket in the --config file')
    }
    const o = options as PublishRunOptions
    switch (command) {
      case 'status':
        return await status(o, manifest, retention, flags.json === true, io)
      case 'publish':
        return await publish(positionals[0], o, manifest, flags['no-prune'] ? false : retention, logger, io)
      case 'prune':
        return await prune(o, manifest, retention, logger)
      case 'rollback': {
        const store = await openStore(o)
        await runRollback({ store, prefix: o.prefix, manifest, release: positionals[0], dryRun: o.dryRun, logger, concurrency: o.concurrency })
        return 0
      }
    }
    return 2
  } catch (err) {
    return failure(err, command, io)
  }
}

function failure(err: unknown, command: string, io: Io): number {
  const debug = /(?:^|,)\s*(?:cdn-publish|\*)\s*(?:,|$)/.test(process.env.DEBUG ?? '')
  if (err instanceof UsageError) {
    io.err(`cdn-publish ${command}: ${err.message}\n`)
    return 2
  }
  if (err instanceof CdnPublishError) {
    io.err(`cdn-publish ${command}: error [${err.code}]: ${err.message}\n${debug ? `${err.stack}\n` : ''}`)
    return err.code === Codes.INVALID_OPTION ? 2 : 1
  }
  io.err(`cdn-publish ${command}: ${debug ? (err as Error)?.stack : ((err as Error)?.message ?? String(err))}\n`)
  return 1
}

function createLogger(io: Io): PublishLogger {
  const tty = Boolean(process.stderr.isTTY) && !process.env.CI
  let shown = false
  const clear = () => {
    if (shown) io.err('\r\x1b[K')
    shown = false
  }
  const logger: PublishLogger = {
    info: (line) => {
      clear()
      io.err(`${line}\n`)
    },
    warn: (line) => {
      clear()
      io.err(`warning: ${line}\n`)
    },
  }
  if (tty) {
    logger.live = (line) => {
      io.err(`\r\x1b[K${line}`)
      shown = true
    }
  }
  return logger
}

async function loadConfig(file: string | undefined): Promise<ConfigFile> {
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
  const unknown = Object.keys(value).filter((k) => !['publish', 'retention', 'manifest'].includes(k))
  if (unknown.length) throw new UsageError(`--config ${file}: unknown key ${JSON.stringify(unknown[0])} (known: publish, retention, manifest)`)
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
function resolveOptions(flags: Flags, config: ConfigFile): ResolvedPublishOptions {
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

function resolveRetentionFlags(flags: Flags, config: RetentionOptions | false | undefined): ResolvedRetention | false {
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

/** Option name → the flag that sets it. */
const FLAG_OF: Record<string, string> = {
  bucket: '--bucket',
  prefix: '--prefix',
  region: '--region',
  endpoint: '--endpoint',
  forcePathStyle: '--force-path-style',
  dryRun: '--dry-run',
  label: '--label',
  concurrency: '--concurrency',
  releases: '--releases',
  minAge: '--min-age',
  grace: '--grace',
  orphans: '--orphans',
  allowRootPrefix: '--allow-root-prefix',
}

/** An INVALID_OPTION about a value given as a flag names the flag, not the option. */
function asFlagError<T>(resolve: () => T, fromFlags: Record<string, unknown>, scope: string): T {
  try {
    return resolve()
  } catch (err) {
    const option = err instanceof CdnPublishError ? String(err.data.option ?? '') : ''
    const name = option.startsWith(scope) ? option.slice(scope.length) : ''
    if (!(err instanceof CdnPublishError) || !(name in fromFlags) || !FLAG_OF[name]) throw err
    throw new CdnPublishError(err.code, err.message.replace(`\`${option}\``, `\`${FLAG_OF[name]}\``), { ...err.data, option: FLAG_OF[name] })
  }
}

function integerFlag(name: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new CdnPublishError(Codes.INVALID_OPTION, `Invalid option \`--${name}\`: expected a whole number, got ${JSON.stringify(value)}.`, { option: `--${name}` })
  return Number(value)
}

async function publish(dir: string, o: PublishRunOptions, manifest: string, retention: ResolvedRetention | false, logger: PublishLogger, io: Io): Promise<number> {
  const outDir = path.resolve(dir)
  if (!existsSync(outDir) || !statSync(outDir).isDirectory()) throw new UsageError(`${dir} is not a directory`)
  if (!existsSync(path.join(outDir, manifest))) {
    throw new UsageError(`${dir} has no ${manifest}: build it with the plugin first (or pass --manifest <name>)`)
  }
  const result = await runDeploy({ outDir, manifest, options: o, retention, logger, warn: (code, message) => io.err(`warning [${code}]: ${message}\n`) })
  return result.report.ok ? 0 : 1
}

async function prune(o: PublishRunOptions, manifest: string, retention: ResolvedRetention | false, logger: PublishLogger): Promise<number> {
  if (retention === false) {
    logger.info('retention is false in the config file: nothing is ever pruned')
    return 0
  }
  const store = await openStore(o)
  const r = await runPrune({ store, prefix: o.prefix, manifest, retention, dryRun: o.dryRun, logger, concurrency: o.concurrency })
  if (r.skipped) {
    logger.warn(`pruning skipped: ${r.skipped}`)
    return 1
  }
  if (r.refused) {
    logger.warn(`nothing was pruned [${Codes.PRUNE_REFUSED}]: ${r.refused}`)
    return 1
  }
  logger.info(`${r.dryRun ? 'dry run of prune' : 'pruned'} in ${(r.durationMs / 1000).toFixed(2)} s: ${pruneSummary(r)}${r.dryRun ? '; nothing was deleted' : ''}`)
  if (r.failed.length) {
    for (const f of r.failed.slice(0, 20)) logger.warn(`[${Codes.PRUNE_FAILED}] could not delete ${f.key}: ${f.code} ${f.message}`)
    return 1
  }
  return 0
}

async function status(o: PublishRunOptions, manifest: string, retention: ResolvedRetention | false, json: boolean, io: Io): Promise<number> {
  const store = await openStore(o)
  const state = await readBucketState(store, o.prefix, manifest, o.concurrency)
  const policy = retention === false ? undefined : retention
  const skipped = policy && o.prefix === '' && !policy.allowRootPrefix ? 'the prefix is empty (see --allow-root-prefix)' : undefined
  const plan = policy && !skipped ? planPrune(policyInput(state, policy, Date.now())) : undefined
  const decision = new Map(plan?.releases.map((r) => [r.release, r]) ?? [])
  const listed = new Set(state.listing.map((x) => x.key))
  // the current release first, then by when each stopped being current (or was created), latest first
  const when = (r: ReleaseRecord) => (r.release === state.current ? '~' : (r.replacedAt ?? r.publishedAt ?? r.createdAt))
  const releases = [...state.records.values()]
    .sort((a, b) => (when(a) < when(b) ? 1 : when(a) > when(b) ? -1 : 0))
    .map((r) => {
      const files = Object.entries(r.files)
      const d = decision.get(r.release)
      return {
        release: r.release,
        label: r.label,
        state: r.release === state.current ? 'current' : r.state,
        createdAt: r.createdAt,
        publishedAt: r.publishedAt,
        replacedAt: r.release === state.current ? undefined : r.replacedAt,
        files: files.length,
        bytes: files.reduce((n, [, f]) => n + f.size, 0),
        missing: files.filter(([p]) => !listed.has(o.prefix + p)).length,
        keep: d ? d.keep : true,
        reasons: d ? d.reasons : [plan?.refused ? 'refused: nothing is deleted' : skipped ? 'pruning skipped (empty prefix)' : 'pruning off (retention: false)'],
      }
    })
  const prune = {
    ...(retention === false ? { off: true } : {}),
    ...(skipped ? { skipped } : {}),
    ...(plan?.refused ? { refused: plan.refused } : {}),
    deletions: plan?.deletions.length ?? 0,
    releases: plan?.releases.filter((r) => !r.keep).map((r) => r.release) ?? [],
    bytesFreed: plan?.bytesFreed ?? 0,
    warnings: [...(plan?.warnings ?? [])],
    ...(policy ? { policy: { releases: policy.releases, minAge: formatDuration(policy.minAge), grace: formatDuration(policy.grace), orphans: policy.orphans } } : {}),
  }
  const where = { bucket: o.bucket, prefix: o.prefix, endpoint: endpointLabel(o) }
  if (json) {
    io.out(`${JSON.stringify({ ...where, current: state.current ?? null, unreadableRecords: state.unreadable, releases, prune }, undefined, 2)}\n`)
    return 0
  }
  const lines = [`s3://${o.bucket}/${o.prefix} at ${where.endpoint}: ${releases.length} release(s), current ${state.current ?? 'none'}`]
  const rows = [['release', 'label', 'state', 'published', 'replaced', 'files', 'bytes', 'kept']]
  const time = (t: string | undefined) => (t ? t.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-')
  for (const r of releases) {
    rows.push([
      r.release,
      r.label ?? '-',
      r.state,
      time(r.publishedAt),
      time(r.replacedAt),
      `${r.files}${r.missing ? ` (${r.missing} missing)` : ''}`,
      formatBytes(r.bytes),
      `${r.keep ? 'keep' : 'delete'}: ${r.reasons.join('; ')}`,
    ])
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)))
  for (const row of rows) lines.push(row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join('  '))
  if (state.unreadable.length) lines.push(`unreadable records: ${state.unreadable.join(', ')}`)
  if (retention === false) lines.push('prune: off (retention: false)')
  else if (skipped) lines.push(`prune: skipped, ${skipped}`)
  else if (plan?.refused) lines.push(`prune now: refused, ${plan.refused}`)
  else lines.push(`prune now: would delete ${prune.releases.length} release(s) and ${prune.deletions} object(s), ${formatBytes(prune.bytesFreed)}`)
  for (const w of prune.warnings) lines.push(`warning: ${w}`)
  io.out(`${lines.join('\n')}\n`)
  return 0
}

// run when executed, also through the node_modules/.bin symlink (not when imported)
const invoked = process.argv[1] && existsSync(process.argv[1]) ? pathToFileURL(realpathSync(process.argv[1])).href : ''
if (import.meta.url === invoked) {
  // The SDK warns on every run that its releases after early 2027 will need Node 22; this package
  // pins a range that runs on Node 20, so the warning is not actionable here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code
    },
    (err: unknown) => {
      process.stderr.write(`cdn-publish: ${(err as Error)?.stack ?? String(err)}\n`)
      process.exitCode = 1
    },
  )
}
