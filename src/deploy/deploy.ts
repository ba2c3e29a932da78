/**
 * A whole deploy of a built output directory, as the plugin's `closeBundle` and
 * `cdn-publish publish` run it: publish, then prune by the retention policy, one summary line, and
 * the report `cdn-publish-report.json` with both.
 *
 * A failed publish throws (the build must fail loudly). A failed or refused prune only warns:
 * nothing it skipped is lost, and the next prune retries.
 */
import { CdnPublishError, Codes } from '../errors.js'
import type { ResolvedRetention } from '../options/retention.js'
import { pruneSummary, runPrune, type PruneReport } from '../retention/prune.js'
import type { PublishLogger } from '../log.js'
import { runPublish, writeReport, type PublishReport, type PublishRunOptions } from '../publish/run.js'
import { openStore } from '../bucket/open.js'
import type { ObjectStore } from '../bucket/store.js'

export interface DeployInput {
  /** Absolute output directory of the build. */
  outDir: string
  /** Manifest file name relative to `outDir` (also its key relative to the prefix). */
  manifest: string
  options: PublishRunOptions
  /** `false`: no pruning. */
  retention: ResolvedRetention | false
  logger: PublishLogger
  /** Warnings with a code (the bundler's `this.warn`, or the CLI's stderr). */
  warn(code: string, message: string): void
  /** Default: the S3 store the options describe. */
  store?: ObjectStore
  now?: () => Date
}

export interface DeployResult {
  report: PublishReport & { prune?: PruneSection }
  prune?: PruneReport
}

/** What the report file says about the prune (the full plan stays out: it can be huge). */
export interface PruneSection {
  ok: boolean
  dryRun: boolean
  skipped?: string
  refused?: string
  releases: { kept: string[]; deleted: string[] }
  deleted: string[]
  failed: { key: string; code: string; message: string }[]
  bytesFreed: number
  warnings: string[]
  error?: { code: string; message: string }
}

export async function runDeploy(input: DeployInput): Promise<DeployResult> {
  const { options: o, logger } = input
  const store = input.store ?? (await openStore(o))
  const outcome = await runPublish({
    store,
    outDir: input.outDir,
    manifest: input.manifest,
    options: o,
    logger,
    ...(input.now ? { now: input.now } : {}),
  })
  const report: DeployResult['report'] = outcome.report
  if (input.retention === false) {
    logger.info(outcome.summary)
    return { report }
  }

  let prune: PruneReport | undefined
  try {
    prune = await runPrune({
      store,
      prefix: o.prefix,
      manifest: input.manifest,
      retention: input.retention,
      dryRun: o.dryRun,
      logger,
      concurrency: o.concurrency,
      ...(input.now ? { now: input.now } : {}),
      // a dry run plans the prune that would follow the publish: the new release current
      ...(o.dryRun && !outcome.wasCurrent ? { assumeCurrent: outcome.record } : {}),
      known: outcome.known,
    })
    report.prune = pruneSection(prune)
    if (prune.skipped) logger.info(`pruning skipped: ${prune.skipped}`)
    if (prune.refused) input.warn(Codes.PRUNE_REFUSED, `nothing was pruned: ${prune.refused}`)
    else if (prune.failed.length) {
      const sample = prune.failed.slice(0, 5).map((f) => `${f.key} (${f.code})`).join(', ')
      input.warn(
        Codes.PRUNE_FAILED,
        `${prune.failed.length} deletion(s) failed: ${sample}${prune.failed.length > 5 ? ', …' : ''}. Nothing a kept release names was touched; the next prune retries.`,
      )
    }
    logger.info(`${outcome.summary}; ${pruneSummary(prune)}`)
  } catch (err) {
    // the publish stands whatever went wrong here
    const e = err instanceof CdnPublishError ? err : new CdnPublishError(Codes.PRUNE_FAILED, (err as Error)?.message ?? String(err))
    report.prune = { ...pruneSection(undefined), error: { code: e.code, message: e.message } }
    logger.info(outcome.summary)
    input.warn(Codes.PRUNE_FAILED, `pruning failed, the publish stands: ${e.message} Nothing a kept release names was deleted; the next prune retries.`)
  }
  await writeReport(input.outDir, input.manifest, report, logger)
  return prune ? { report, prune } : { report }
}

function pruneSection(p: PruneReport | undefined): PruneSection {
  return {
    ok: p !== undefined && !p.refused && p.failed.length === 0,
    dryRun: p?.dryRun ?? false,
    ...(p?.skipped ? { skipped: p.skipped } : {}),
    ...(p?.refused ? { refused: p.refused } : {}),
    releases: p?.releases ?? { kept: [], deleted: [] },
    deleted: p?.deleted ?? [],
    failed: p?.failed ?? [],
    bytesFreed: p?.bytesFreed ?? 0,
    warnings: p?.warnings ?? [],
  }
}
