/**
 * The deploy core: everything from "the final directory is on disk" to "published and pruned",
 * for every entry point (the Vite and Rollup plugin's `closeBundle`, `cdn-publish publish <dir>`,
 * the framework integrations). It is the one place with side effects; what it decides comes from
 * pure planners.
 *
 * 1. the directory: the build's manifest reconciled with what is on disk, late pages given the
 *    build's HTML pass, the final manifest (./directory.ts); written to the directory, or, in a
 *    dry run, only shown
 * 2. the publish (../publish/run.ts): record, immutable files, snapshots, switch
 * 3. the prune by the retention policy (../retention/prune.ts)
 * 4. one summary line, and one report, outside the published directory
 *
 * A failed publish throws (the build must fail loudly). A failed or refused prune only warns:
 * nothing it skipped is lost, and the next prune retries.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { openStore } from '../bucket/open.js'
import type { ObjectStore } from '../bucket/store.js'
import { CdnPublishError, Codes } from '../errors.js'
import type { PublishLogger } from '../log.js'
import type { ResolvedRetention, ResolvedSkewGuard } from '../options/types.js'
import { emptyReport, writeReport, type PublishReport } from '../publish/report.js'
import { runPublish, type PublishRunOptions } from '../publish/run.js'
import { pruneSummary, runPrune, type PruneReport } from '../retention/prune.js'
import { finalDirectory, type DirectoryChange, type FinalDirectory } from './directory.js'
import type { InvalidationSection } from './invalidate.js'

export interface DeployInput {
  /** Absolute directory to publish: what the CDN origin serves, complete. */
  dir: string
  /** The manifest's path relative to `dir` (also its key relative to the prefix). */
  manifest: string
  options: PublishRunOptions
  /** `false`: no pruning. */
  retention: ResolvedRetention | false
  logger: PublishLogger
  /** Absolute path of the report; `false` writes none. Never inside `dir`. */
  report: string | false
  /** How pages the bundle did not write are treated. */
  pages: {
    /** Give the public files they name fingerprinted copies (`fingerprint.public`). */
    fingerprintPublic: boolean
    hashLength: number
    /** Integrity attributes on their scripts, stylesheets and module preloads (`sri`). */
    sri?: boolean
    /** The runtime skew guard on every page, and `cdn-release.json` (`skewGuard`). */
    skewGuard?: ResolvedSkewGuard | false
    /** Base URL, for a directory without a manifest (default `/`). */
    base?: string
  }
  /** Default: the S3 store the options describe. */
  store?: ObjectStore
  now?: () => Date
}

/** What the report says of the directory pass. */
export type DirectorySection = DirectoryChange[]

export interface DeployResult {
  report: DeployReport
  prune?: PruneReport
}

export type DeployReport = PublishReport & { directory?: DirectorySection; invalidation?: InvalidationSection; prune?: PruneSection }

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

/** The report's default place: the project's cache directory, which no server serves. */
export function defaultReportPath(projectRoot: string): string {
  return path.join(projectRoot, 'node_modules', '.cache', 'cdn-publish', 'cdn-publish-report.json')
}

export async function deployDirectory(input: DeployInput): Promise<DeployResult> {
  const { options: o, logger, dir } = input
  const now = input.now ?? (() => new Date())
  checkReportPath(input.report, dir)

  const report: DeployReport = emptyReport(o, now())
  try {
    const final = await finalDirectory({ dir, manifest: input.manifest, ...input.pages, label: o.label })
    printDirectory(logger, dir, final, o.dryRun)
    if (!o.dryRun) await writeAll(dir, final.writes)
    if (final.changes.length) report.directory = final.changes

    const store = input.store ?? (await openStore(o))
    const outcome = await runPublish({
      store,
      outDir: dir,
      manifest: input.manifest,
      options: o,
      logger,
      report,
      ...(o.dryRun ? { pending: final.writes } : {}),
      ...(input.now ? { now: input.now } : {}),
    })
    if (o.invalidate) {
      const { invalidate } = await import('./invalidate.js')
      report.invalidation = await invalidate({
        cloudfront: o.invalidate.cloudfront,
        changed: switched(report, final, o.prefix + input.manifest),
        release: final.manifest.release,
        previous: report.previous,
        dryRun: o.dryRun,
        logger,
      })
    }
    if (input.retention === false) {
      logger.info(outcome.summary)
      return { report }
    }
    const prune = await pruneAfter(input, store, outcome, report)
    return prune ? { report, prune } : { report }
  } catch (err) {
    // the report of a run that failed says so, whichever step failed (the publish fills in its own)
    if (report.ok) {
      report.ok = false
      report.error = err instanceof CdnPublishError ? { code: err.code, message: err.message } : { code: Codes.PUBLISH_FAILED, message: (err as Error)?.message ?? String(err) }
    }
    throw err
  } finally {
    if (input.report !== false) await writeReport(input.report, report, logger)
  }
}

async function pruneAfter(
  input: DeployInput,
  store: ObjectStore,
  outcome: Awaited<ReturnType<typeof runPublish>>,
  report: DeployReport,
): Promise<PruneReport | undefined> {
  const { options: o, logger } = input
  if (input.retention === false) return undefined
  try {
    const prune = await runPrune({
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
    if (prune.refused) logger.warn(`nothing was pruned: ${prune.refused}`, Codes.PRUNE_REFUSED)
    else if (prune.failed.length) {
      const sample = prune.failed.slice(0, 5).map((f) => `${f.key} (${f.code})`).join(', ')
      logger.warn(
        `${prune.failed.length} deletion(s) failed: ${sample}${prune.failed.length > 5 ? ', …' : ''}. Nothing a kept release names was touched; the next prune retries.`,
        Codes.PRUNE_FAILED,
      )
    }
    logger.info(`${outcome.summary}; ${pruneSummary(prune)}`)
    return prune
  } catch (err) {
    // the publish stands whatever went wrong here
    const e = err instanceof CdnPublishError ? err : new CdnPublishError(Codes.PRUNE_FAILED, (err as Error)?.message ?? String(err))
    report.prune = { ...pruneSection(undefined), error: { code: e.code, message: e.message } }
    logger.info(outcome.summary)
    logger.warn(`pruning failed, the publish stands: ${e.message} Nothing a kept release names was deleted; the next prune retries.`, Codes.PRUNE_FAILED)
    return undefined
  }
}

/** The served keys the publish wrote (dry run: would write) in its switch: mutable files and the stable manifest. */
function switched(report: PublishReport, final: FinalDirectory, manifestKey: string): string[] {
  // a served file's key is prefix + path (a snapshot of it is not)
  const served = (f: { path: string; key: string }) => f.key === manifestKey || (f.key === report.prefix + f.path && final.manifest.files[f.path]?.immutable === false)
  return report.uploaded.filter(served).map((f) => f.key)
}

/** A report inside the published directory would be served (it names the bucket and endpoint). */
function checkReportPath(report: string | false, dir: string): void {
  if (report === false) return
  const rel = path.relative(dir, report)
  if (rel && !rel.startsWith('..') && !path.isAbsolute(rel)) {
    throw new CdnPublishError(
      Codes.INVALID_OPTION,
      `Invalid option \`publish.report\`: ${report} is inside the published directory ${dir}, where a server would serve it. Put it elsewhere (the default is node_modules/.cache/cdn-publish/ of the project), or turn it off (\`publish.report: false\`, \`--no-report\`).`,
      { option: 'publish.report' },
    )
  }
}

async function writeAll(dir: string, writes: ReadonlyMap<string, Uint8Array>): Promise<void> {
  // copies first, pages next, the manifest last: a reader of the directory never sees a page
  // naming a copy that is not there yet
  for (const [rel, bytes] of writes) {
    const file = path.join(dir, rel)
    await mkdir(path.dirname(file), { recursive: true })
    await writeFile(file, bytes)
  }
}

const VERB: Record<DirectoryChange['action'], string> = { add: 'add', drop: 'drop', ignore: 'ignore', fingerprint: 'copy', rewrite: 'rewrite' }

function printDirectory(logger: PublishLogger, dir: string, final: FinalDirectory, dryRun: boolean): void {
  const count = (a: DirectoryChange['action']) => final.changes.filter((c) => c.action === a).length
  const what = [
    [count('add'), 'added'],
    [count('drop') + count('ignore'), 'left out'],
    [count('fingerprint'), 'fingerprinted'],
    [count('rewrite'), 'page(s) rewritten'],
  ]
    .filter(([n]) => n)
    .map(([n, w]) => `${n} ${w}`)
  const source = final.built ? 'the build manifest' : 'no manifest: built from the directory'
  if (!final.changes.length) return
  logger.info(`directory ${dir} (${source}): ${what.join(', ')}`)
  if (!dryRun) return
  for (const c of final.changes) logger.info(`  ${VERB[c.action].padEnd(8)} ${c.path} (${c.reason})`)
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
