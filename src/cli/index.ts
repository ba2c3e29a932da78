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
 *
 * This file holds the dispatch (`main`), the exit codes (`failure`) and the publish and prune
 * commands; the flags and help texts are in args.ts, option sources in config.ts, status in status.ts.
 * Each command imports what it needs when it runs (`--help` loads only the help texts, `publish`
 * neither rollback nor status), since a CI step pays the start-up on every run.
 */
import { existsSync, realpathSync, statSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { CdnPublishError, Codes } from '../errors.js'
import type { PublishLogger } from '../log.js'
import type { PublishRunOptions } from '../publish/run.js'
import type { ResolvedRetention } from '../options/types.js'
import { ACCEPTS, DEFAULT_MANIFEST, HELP, OPTIONS, POSITIONALS, UsageError, type Flags, type Io } from './args.js'
import type { ConfigFile } from './config.js'

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

  try {
    const [{ streamLogger }, { loadConfig, resolveOptions, resolveRetentionFlags }] = await Promise.all([import('../log.js'), import('./config.js')])
    const logger = streamLogger(io.err, Boolean(process.stderr.isTTY))
    const config = await loadConfig(flags.config)
    const manifest = flags.manifest ?? config.manifest ?? DEFAULT_MANIFEST
    const options = resolveOptions(flags, config)
    const retention = command === 'rollback' ? false : resolveRetentionFlags(flags, config.retention)
    if (options.bucket === undefined) {
      throw new UsageError('no bucket: pass --bucket, set CDN_PUBLISH_BUCKET, or set publish.bucket in the --config file')
    }
    const o = options as PublishRunOptions
    switch (command) {
      case 'status': {
        const { status } = await import('./status.js')
        return await status(o, manifest, retention, flags.json === true, io)
      }
      case 'publish':
        return await publish(positionals[0]!, flags, config, o, manifest, flags['no-prune'] ? false : retention, logger)
      case 'prune':
        return await prune(o, manifest, retention, logger)
      case 'rollback': {
        const [{ openStore }, { runRollback }] = await Promise.all([import('../bucket/open.js'), import('../rollback.js')])
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

async function publish(
  dir: string,
  flags: Flags,
  config: ConfigFile,
  o: PublishRunOptions,
  manifest: string,
  retention: ResolvedRetention | false,
  logger: PublishLogger,
): Promise<number> {
  const abs = path.resolve(dir)
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new UsageError(`${dir} is not a directory`)
  if (flags.report !== undefined && flags['no-report']) throw new UsageError('--report and --no-report exclude each other')
  const [{ resolveBuildOptions }, { defaultReportPath, deployDirectory }] = await Promise.all([import('../options/build.js'), import('../deploy/index.js')])
  const given = flags['no-report'] ? false : (flags.report ?? o.report)
  const report = given === false ? false : given === undefined ? defaultReportPath(process.cwd()) : path.resolve(given)
  const fp = resolveBuildOptions({ fingerprint: config.fingerprint ?? {}, ...(config.sri !== undefined ? { sri: config.sri } : {}), ...(config.skewGuard !== undefined ? { skewGuard: config.skewGuard } : {}) })
  const pages = { fingerprintPublic: !flags['no-fingerprint'] && fp.fingerprintPublic, hashLength: fp.hashLength, sri: fp.sri, skewGuard: fp.skewGuard }
  let result
  try {
    result = await deployDirectory({ dir: abs, manifest, options: o, retention, logger, report, pages: flags.base !== undefined ? { ...pages, base: flags.base } : pages })
  } catch (err) {
    // a report path given as a flag is named as the flag
    if (err instanceof CdnPublishError && err.data.option === 'publish.report' && flags.report !== undefined) {
      throw new CdnPublishError(err.code, err.message.replace('`publish.report`', '`--report`'), { ...err.data, option: '--report' })
    }
    throw err
  }
  if (report !== false) logger.info(`report: ${report}`)
  return result.report.ok ? 0 : 1
}

async function prune(o: PublishRunOptions, manifest: string, retention: ResolvedRetention | false, logger: PublishLogger): Promise<number> {
  if (retention === false) {
    logger.info('retention is false in the config file: nothing is ever pruned')
    return 0
  }
  const [{ openStore }, { pruneSummary, runPrune }] = await Promise.all([import('../bucket/open.js'), import('../retention/prune.js')])
  const store = await openStore(o)
  const r = await runPrune({ store, prefix: o.prefix, manifest, retention, dryRun: o.dryRun, logger, concurrency: o.concurrency })
  if (r.skipped) {
    logger.warn(`pruning skipped: ${r.skipped}`, Codes.PRUNE_FAILED)
    return 1
  }
  if (r.refused) {
    logger.warn(`nothing was pruned: ${r.refused}`, Codes.PRUNE_REFUSED)
    return 1
  }
  logger.info(`${r.dryRun ? 'dry run of prune' : 'pruned'} in ${(r.durationMs / 1000).toFixed(2)} s: ${pruneSummary(r)}${r.dryRun ? '; nothing was deleted' : ''}`)
  if (r.failed.length) {
    for (const f of r.failed.slice(0, 20)) logger.warn(`could not delete ${f.key}: ${f.code} ${f.message}`, Codes.PRUNE_FAILED)
    return 1
  }
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
