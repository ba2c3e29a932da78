/**
 * `cdn-publish status`: the releases under the prefix with their state, sizes and whether each is
 * kept, and what a prune would delete now, as a table or (`--json`) a JSON document. Reads only.
 */
import { readBucketState } from '../bucket/state.js'
import type { ReleaseRecord } from '../bucket/record.js'
import { openStore } from '../bucket/open.js'
import { formatBytes } from '../log.js'
import type { ResolvedRetention } from '../options/types.js'
import { endpointLabel } from '../publish/report.js'
import type { PublishRunOptions } from '../publish/run.js'
import { planPrune } from '../retention/policy.js'
import { policyInput, withRecordViews } from '../retention/prune.js'
import { formatDuration } from '../util/duration.js'
import type { Io } from './args.js'

export async function status(o: PublishRunOptions, manifest: string, retention: ResolvedRetention | false, json: boolean, io: Io): Promise<number> {
  const store = await openStore(o)
  const state = await readBucketState(store, o.prefix, manifest, o.concurrency)
  const policy = retention === false ? undefined : retention
  const skipped = policy && o.prefix === '' && !policy.allowRootPrefix ? 'the prefix is empty (see --allow-root-prefix)' : undefined
  const plan = policy && !skipped ? planPrune(policyInput(withRecordViews(state), policy, Date.now())) : undefined
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
