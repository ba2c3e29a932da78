/**
 * Carry out a publish against an `ObjectStore`, in the order that keeps every deploy safe:
 *
 * 0. read (./read.ts): the local output, checked against its manifest, then one listing of the
 *    prefix (its ranges between the build's keys fetched at once); this release's record and the previous release's, when listed; the
 *    release the stable manifest names, when the listing cannot tell; the stored digest of each
 *    listed file; the objects the listing cannot judge. Then the plan (./plan.ts). A dry run
 *    prints it and stops here; so does a fingerprinted key that holds other bytes.
 * 1. the release record, `pending`, so a concurrent prune sees its files as referenced
 * 2. every fingerprinted file not already present
 * 3. the snapshots of the mutable files and of the manifest not already stored (nothing served
 *    changes yet). Then, before a switch, a second listing: a file or snapshot this release
 *    reuses that was deleted meanwhile (a concurrent prune) is uploaded again.
 * 4. the switch: every mutable file that differs from the stored one, then the stable manifest,
 *    then the previous release's record marked `replaced` and this release's `current` (in that
 *    order: a run stopped between them leaves this record pending, naming the previous release,
 *    and the rerun does both; never two records saying `current`). Should it fail before the
 *    manifest lands, the mutable files already overwritten get the previous release's bytes
 *    back from its snapshots (./revert.ts).
 *
 * Steps 1–4 are ./execute.ts. A failure before the manifest lands leaves the previous release
 * served, and running the same build again completes the same release, uploading only what is
 * missing. The caller's report (./report.ts) is filled either way; the caller writes it.
 */
import { allFiles, planPublish } from './plan.js'
import { silentLogger, type PublishLogger } from '../log.js'
import type { ReleaseRecord } from '../bucket/record.js'
import type { ObjectStore, StoredObject } from '../bucket/store.js'
import { currentRecord, execute, SwitchMoved, type Executed } from './execute.js'
import { CdnPublishError, Codes } from '../errors.js'
import { conflictError, toPublishError, Tracker } from './failure.js'
import { digestListed, knownState, listingSplits, readLocal, readRemote, verifyInconclusive, type KnownState } from './read.js'
import { dryRunSummary, fillDryRunReport, printPlan, reportFile, startLine, summaryLine, type PublishReport, type PublishRunOptions } from './report.js'

export type { PublishRunOptions } from './report.js'

export interface RunPublishInput {
  store: ObjectStore
  /** Absolute output directory of the build. */
  outDir: string
  /** Manifest file name relative to `outDir` (also its key relative to the prefix). */
  manifest: string
  options: PublishRunOptions
  /** Filled by the publish, also when it throws (see `emptyReport`); the caller writes it. */
  report: PublishReport
  logger?: PublishLogger
  /** Clock for record timestamps. */
  now?: () => Date
  /** Dry run only: bytes the directory pass would write, read instead of the files on disk. */
  pending?: ReadonlyMap<string, Uint8Array>
}

/** What a publish did. */
export interface PublishOutcome {
  /** The input's report, filled. */
  report: PublishReport
  /** The release's record as it stands after the publish (dry run: as it would). */
  record: ReleaseRecord
  /** The release was current before this publish, which changed nothing that names files. */
  wasCurrent: boolean
  /**
   * The bucket as this publish knows it: what it read, with what it wrote on top. A prune that
   * follows starts from it instead of reading everything again (it lists the records before each
   * batch of deletions anyway, so a concurrent writer is still noticed).
   */
  known: KnownState
  /** One line for the log: what was uploaded, skipped and sent. */
  summary: string
}

/**
 * Publish the build in `outDir` through `store`. Throws `CdnPublishError`; fills `input.report`
 * either way and never writes it (the caller does, once, a prune's section included). The
 * summary line is the caller's to print (a prune may add to it).
 */
export async function runPublish(input: RunPublishInput): Promise<PublishOutcome> {
  const { store, outDir, options: o, report } = input
  const logger = input.logger ?? silentLogger
  const now = input.now ?? (() => new Date())
  const t0 = performance.now()
  const tracker = new Tracker(o, report)
  let uploadStart: number | undefined
  try {
    for (let replanned = 0; ; replanned++) {
      const { local, remote, digests, plan, label } = await prepare(input, report, logger, now)
      report.durations.readMs ||= Math.round(performance.now() - t0)
      tracker.plan = plan

      const conflicts = allFiles(plan).filter((f) => f.action === 'conflict')
      report.conflicts = conflicts.map((f) => reportFile(f, f.size))
      if (o.dryRun) {
        printPlan(logger, plan)
        fillDryRunReport(report, plan)
        if (conflicts.length) throw conflictError(o, plan, conflicts, true)
        const record = currentRecord(plan, label, local, digests, now().toISOString())
        return { report, record, wasCurrent: !plan.activate.write, summary: dryRunSummary(plan, performance.now() - t0), known: knownState(remote, new Map(), []) }
      }
      if (conflicts.length) throw conflictError(o, plan, conflicts, false)

      uploadStart ??= performance.now()
      const written = new Map<string, StoredObject>()
      const recording: ObjectStore = {
        ...store,
        put: async (req) => {
          await store.put(req)
          written.set(req.key, { key: req.key, size: req.contentLength, etag: req.md5 ?? '', lastModified: now() })
        },
      }
      const manifestEtag = remote.listed.get(local.manifestFile.key)?.etag
      let executed: Executed
      try {
        executed = await execute({ store: recording, outDir, options: o, plan, local, digests, previousRecord: remote.previousRecord, manifestEtag, label, logger, now, report, tracker })
      } catch (err) {
        if (!(err instanceof SwitchMoved)) throw err
        // another release became current while this one uploaded: nothing served was touched;
        // plan again (what is uploaded is skipped now) and switch as the release after it
        if (replanned >= MAX_REPLANS) throw movedTooOften(o, plan.release, err.current, replanned + 1)
        logger.info(`release ${err.current ?? '(unknown)'} became current in ${store.describe()} while release ${plan.release} was uploading: planning again, as the release after it`)
        ;(report.concurrent ??= { waitedMs: 0, waitedFor: [], replanned: 0 }).replanned++
        report.skipped = []
        if (err.current !== undefined) report.previous = err.current
        tracker.step = 1 // files are uploaded: a failure from here on says how to finish
        continue
      }
      const { record } = executed
      const previous = executed.replaced ?? remote.previousRecord
      const own = plan.activate.write ? record : (remote.ownRecord ?? record)
      const known = knownState(remote, written, [own, ...(previous ? [previous] : [])], record.release)
      return { report, record, wasCurrent: !plan.activate.write, summary: summaryLine(plan, report, performance.now() - t0), known }
    }
  } catch (err) {
    const e = tracker.explain(toPublishError(err, o))
    report.ok = false
    report.error = { code: e.code, message: e.message }
    throw e
  } finally {
    report.durations.totalMs = Math.round(performance.now() - t0)
    if (uploadStart !== undefined) report.durations.uploadMs = Math.round(performance.now() - uploadStart)
    report.finishedAt = now().toISOString()
  }
}

/** Plans a publish makes again when other releases keep becoming current before its switch. */
const MAX_REPLANS = 3

function movedTooOften(o: PublishRunOptions, release: string, current: string | undefined, times: number): CdnPublishError {
  return new CdnPublishError(
    Codes.PUBLISH_CONFLICT,
    `release ${release} could not become current in s3://${o.bucket}/${o.prefix}: other publishes switched it ${times} times while this one waited, the last to release ${current ?? '(unknown)'}. ` +
      `Its files are uploaded and nothing served was changed by it; running it again is safe and makes it current.`,
    { bucket: o.bucket, release, current },
  )
}

/** Every read, then the plan: the local output, the listing, the records, inconclusive objects. */
async function prepare(input: RunPublishInput, report: PublishReport, logger: PublishLogger, now: () => Date) {
  const { store, outDir, options: o } = input
  const dir = { path: outDir, pending: input.pending }
  const local = await readLocal(dir, input.manifest, o)
  // the keys the build expects cut the listing into ranges fetched at once
  const listing = store.list(o.prefix, { splitAfter: listingSplits(local) })
  listing.catch(() => {}) // awaited below; a failure before must not leave it unhandled
  report.release = local.manifest.release
  const label = o.label ?? local.manifest.label
  if (label !== undefined) report.label = label
  report.bytes.total = local.files.filter((f) => !f.excluded).reduce((n, f) => n + f.size, 0)
  logger.info(startLine(o, local, label, report.bytes.total))

  const remote = await readRemote(store, o.prefix, local, await listing)
  const digests = await digestListed(dir, local.files, remote, o.concurrency)
  const plan = await verifyInconclusive(
    planPublish({
      release: local.manifest.release,
      prefix: o.prefix,
      label,
      files: local.files,
      manifest: local.manifestFile,
      manifestDigest: local.manifestDigest,
      listing: remote.listing,
      digests,
      ...(remote.ownRecord ? { ownRecord: remote.ownRecord } : {}),
      pointer: remote.pointer,
      ...(remote.previousRecord ? { previousRecord: remote.previousRecord } : {}),
      now: now().toISOString(),
    }),
    store,
    o.concurrency,
  )
  if (plan.previous) report.previous = plan.previous.release
  return { local, remote, digests, plan, label }
}
