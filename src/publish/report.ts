/**
 * What a publish tells: the start line with every setting and its source, the plan of a dry
 * run, the summary line, and the report `cdn-publish-report.json` (filled by the publish,
 * written by its caller).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { Codes } from '../errors.js'
import type { SourcedOption } from '../options/env.js'
import type { ResolvedPublishOptions } from '../options/types.js'
import { allFiles, type LocalFile, type PlannedFile, type PublishPlan } from './plan.js'
import { formatBytes, formatSeconds, type PublishLogger } from '../log.js'
import { META_DIR } from '../bucket/record.js'
import type { Local } from './read.js'

export const REPORT_FILE = 'cdn-publish-report.json'

/** Options of a publish with a bucket. */
export type PublishRunOptions = ResolvedPublishOptions & { bucket: string }

/** One line of the report's `uploaded` / `skipped` / `conflicts` lists. */
export interface ReportFile {
  path: string
  key: string
  /** Bytes sent (after precompression) for uploads; the file's size otherwise. */
  bytes: number
  reason: string
}

/** `cdn-publish-report.json`: what a publish did (or, in a dry run, would do). */
export interface PublishReport {
  version: 1
  ok: boolean
  dryRun: boolean
  release: string | undefined
  label?: string
  bucket: string
  prefix: string
  endpoint: string
  /** Each value that can come from the environment, with its source. */
  settings: Record<SourcedOption, { value: unknown; source: string }>
  /** Uploaded objects (dry run: objects that would be uploaded), release record and manifest included. */
  uploaded: ReportFile[]
  skipped: ReportFile[]
  conflicts: ReportFile[]
  /** The release that was current before, when any. */
  previous?: string
  /** Bytes of the build's published files, and bytes sent. */
  bytes: { total: number; uploaded: number }
  durations: { totalMs: number; readMs: number; uploadMs: number }
  /**
   * Present when another publish or rollback switched the same prefix at the same time: how long
   * this one waited for the switch lease, for whom, and how many times it planned again because
   * a release became current meanwhile.
   */
  concurrent?: { waitedMs: number; waitedFor: string[]; replanned: number }
  startedAt: string
  finishedAt?: string
  error?: { code: string; message: string }
}

export function endpointLabel(o: Pick<ResolvedPublishOptions, 'endpoint' | 'region'>): string {
  return o.endpoint ?? `AWS S3${o.region ? ` (${o.region})` : ''}`
}

function shownValue(o: PublishRunOptions, k: SourcedOption): string {
  switch (k) {
    case 'prefix':
      return JSON.stringify(o.prefix)
    case 'region':
      return o.region ?? (o.endpoint ? 'us-east-1' : "the SDK's (AWS_PROFILE / config)")
    case 'endpoint':
      return o.endpoint ?? 'AWS S3'
    case 'label':
      return o.label === undefined ? 'none' : JSON.stringify(o.label)
    default:
      return String(o[k])
  }
}

const SOURCED: SourcedOption[] = ['bucket', 'prefix', 'region', 'endpoint', 'forcePathStyle', 'dryRun', 'label']

export function startLine(o: PublishRunOptions, local: Local, label: string | undefined, bytes: number): string {
  const count = local.files.filter((f) => !f.excluded).length
  const settings = SOURCED.map((k) => `${k} ${shownValue(o, k)} (${o.sources[k]})`).join(', ')
  return (
    `${o.dryRun ? 'dry run: would publish' : 'publishing'} release ${local.manifest.release}${label ? ` "${label}"` : ''} ` +
    `to s3://${o.bucket}/${o.prefix} at ${endpointLabel(o)}: ${count} files, ${formatBytes(bytes)}. Settings: ${settings}`
  )
}

export function summaryLine(plan: PublishPlan, report: PublishReport, ms: number): string {
  const files = report.uploaded.filter((f) => f.key !== plan.manifest.key && !f.key.startsWith(plan.prefix + META_DIR)).length
  const skipped = [...plan.immutable, ...plan.mutable].filter((f) => f.action === 'skip').length
  const manifest = plan.manifest.action === 'upload' ? ' and the manifest' : ''
  const previous = plan.previous ? ` (was ${plan.previous.release})` : ''
  return (
    `published release ${plan.release} in ${formatSeconds(ms)}: ${files} files${manifest} uploaded, ${skipped} skipped, ` +
    `${formatBytes(report.bytes.uploaded)} sent; current release ${plan.release}${previous}`
  )
}

export function printPlan(logger: PublishLogger, plan: PublishPlan): void {
  const line = (action: string, what: string, detail: string) => logger.info(`  ${action.padEnd(8)} ${what} (${detail})`)
  logger.info(`plan for release ${plan.release}:`)
  logger.info(' 1. release record')
  line(plan.record.write ? 'write' : 'skip', plan.record.key, plan.record.reason)
  const files = (step: string, list: PlannedFile[]) => {
    logger.info(step)
    if (!list.length) logger.info('  (none)')
    for (const f of list) line(f.action, f.key, `${formatBytes(f.size)}, ${f.reason}`)
  }
  files(' 2. fingerprinted files', plan.immutable)
  logger.info(' 3. snapshots')
  for (const snap of plan.snapshots) if (snap.action === 'upload') line(snap.action, snap.key, `snapshot of ${snap.path}, ${snap.reason}`)
  const kept = plan.snapshots.filter((snap) => snap.action === 'skip').length
  if (kept) logger.info(`  ${'skip'.padEnd(8)} ${kept} snapshot(s) already stored`)
  files(' 4. switch: other files, then the manifest', plan.mutable)
  line(plan.manifest.action, plan.manifest.key, `${formatBytes(plan.manifest.size)}, ${plan.manifest.reason}`)
  if (plan.previous) line(plan.previous.write ? 'write' : 'skip', plan.previous.key, plan.previous.reason)
  line(plan.activate.write ? 'write' : 'skip', plan.record.key, plan.activate.reason)
}

export function dryRunSummary(plan: PublishPlan, ms: number): string {
  const files = [...plan.immutable, ...plan.mutable]
  const up = files.filter((f) => f.action === 'upload')
  const manifest = plan.manifest.action === 'upload' ? ' and the manifest' : ''
  const bytes = up.reduce((n, f) => n + f.size, 0) + (manifest ? plan.manifest.size : 0)
  return (
    `dry run of release ${plan.release} in ${formatSeconds(ms)}: would upload ${up.length} files${manifest} ` +
    `(${formatBytes(bytes)}), skip ${files.length - up.length}; nothing was written`
  )
}

export function reportFile(f: LocalFile & { reason: string }, bytes: number): ReportFile {
  return { path: f.path, key: f.key, bytes, reason: f.reason }
}

export function fillDryRunReport(report: PublishReport, plan: PublishPlan): void {
  for (const f of allFiles(plan)) {
    if (f.action === 'upload') report.uploaded.push(reportFile(f, f.size))
    else if (f.action === 'skip') report.skipped.push(reportFile(f, f.size))
  }
  for (const snap of plan.snapshots) {
    if (snap.action === 'upload') report.uploaded.push({ path: snap.key.slice(snap.key.lastIndexOf('/') + 1), key: snap.key, bytes: snap.file.size, reason: `snapshot of ${snap.path}` })
  }
  report.bytes.uploaded = report.uploaded.reduce((n, f) => n + f.bytes, 0)
}

/** A publish's report before it starts: its settings; `runPublish` fills in the rest. */
export function emptyReport(o: PublishRunOptions, startedAt: Date): PublishReport {
  const settings = {} as PublishReport['settings']
  for (const k of SOURCED) settings[k] = { value: o[k] ?? null, source: o.sources[k] }
  return {
    version: 1,
    ok: true,
    dryRun: o.dryRun,
    release: undefined,
    bucket: o.bucket,
    prefix: o.prefix,
    endpoint: endpointLabel(o),
    settings,
    uploaded: [],
    skipped: [],
    conflicts: [],
    bytes: { total: 0, uploaded: 0 },
    durations: { totalMs: 0, readMs: 0, uploadMs: 0 },
    startedAt: startedAt.toISOString(),
  }
}

/** Write a report (JSON) to `file`, an absolute path; a failure only warns. */
export async function writeReport(file: string, report: unknown, logger: PublishLogger): Promise<void> {
  try {
    await mkdir(path.dirname(file), { recursive: true })
    await writeFile(file, `${JSON.stringify(report, undefined, 2)}\n`)
  } catch (err) {
    logger.warn(`could not write the publish report ${file}: ${(err as Error).message}`, Codes.REPORT_NOT_WRITTEN)
  }
}
