/**
 * The errors a publish throws, told so that they stand alone: how far the publish got, what is
 * served now, and how to finish (run the same build again).
 */
import { CdnPublishError, Codes } from '../errors.js'
import { LEASE_KEY } from '../bucket/lease.js'
import type { PlannedFile, PublishPlan } from './plan.js'
import { endpointLabel, type PublishReport, type PublishRunOptions } from './report.js'
import type { Reverted } from './revert.js'

/** Knows how far a publish got, to tell the user what is served now and how to finish. */
export class Tracker {
  step: 0 | 1 | 2 | 3 | 4 = 0
  /** The stable manifest names the new release. */
  switched = false
  /** What a failed switch put back of the mutable files it had overwritten. */
  reverted: Reverted | undefined
  /** The release a conditional manifest write lost to (it switched without the lease). */
  winner: string | undefined
  plan: PublishPlan | undefined

  constructor(
    private readonly o: PublishRunOptions,
    private readonly report: PublishReport,
  ) {}

  explain(e: CdnPublishError): CdnPublishError {
    let message = e.message
    if (e.code === Codes.ACCESS_DENIED) {
      message +=
        ` Publishing needs s3:ListBucket on arn:aws:s3:::${this.o.bucket}, and s3:GetObject and s3:PutObject on ` +
        `arn:aws:s3:::${this.o.bucket}/${this.o.prefix}* (pruning also needs s3:DeleteObject).`
    }
    const release = this.report.release
    const prev = this.winner ?? this.report.previous ?? this.plan?.previous?.release
    if (this.winner !== undefined) {
      const lostLease = typeof e.data.key === 'string' && e.data.key.endsWith(LEASE_KEY)
      const failed = this.reverted?.failed ?? []
      message =
        `release ${release} could not become current in s3://${this.o.bucket}/${this.o.prefix}: ` +
        (lostLease
          ? `${e.message}.`
          : `the stable manifest was switched to release ${this.winner} while this publish held the lease (by a writer that does not take it: another tool, or an older version of this plugin).`) +
        ` The stable manifest names release ${this.winner}; ` +
        (failed.length === 0
          ? `the mutable files this publish had written were put back to its bytes.`
          : `${failed.length} mutable file(s) this publish had written could not be put back (${failed.slice(0, 5).join(', ')}${failed.length > 5 ? ', …' : ''}); every file they name is in the bucket.`) +
        ` Run the same build again to complete release ${release}; files already uploaded are skipped.`
    } else if (this.o.dryRun || this.step === 0) {
      if (!this.o.dryRun) message += ' Nothing was written.'
    } else if (this.step <= 3 || (this.step === 4 && !this.switched)) {
      const failed = this.reverted?.failed ?? []
      const served = prev ? `release ${prev}` : 'the previous release (if any)'
      message +=
        failed.length === 0
          ? ` The stable manifest was not changed${this.reverted?.restored.length ? ` and the mutable files already switched were put back` : ''}: ${served} is still served.`
          : ` The stable manifest was not changed, but ${failed.length} mutable file(s) already hold release ${release}'s bytes and could not be put back ` +
            `(${failed.slice(0, 5).join(', ')}${failed.length > 5 ? ', …' : ''}); every file they name is in the bucket.`
      message += ` Run the same build again to complete release ${release}; files already uploaded are skipped.`
    } else {
      message += ` The stable manifest already names release ${release}; run the same build again to mark its record current${prev ? ` and release ${prev}'s replaced` : ''}.`
    }
    const data = { ...e.data, ...(release ? { release } : {}), step: this.step }
    return new CdnPublishError(e.code, message, data)
  }
}

export function toPublishError(err: unknown, o: PublishRunOptions): CdnPublishError {
  if (err instanceof CdnPublishError) return err
  const e = err as NodeJS.ErrnoException
  const what = e?.path ? `${e.code ?? 'error'} on ${e.path}` : (e?.message ?? String(err))
  return new CdnPublishError(Codes.PUBLISH_FAILED, `publishing to s3://${o.bucket}/${o.prefix} failed: ${what}.`, { bucket: o.bucket })
}

export function conflictError(o: PublishRunOptions, plan: PublishPlan, conflicts: PlannedFile[], dryRun: boolean): CdnPublishError {
  const where = `s3://${o.bucket}/${o.prefix} at ${endpointLabel(o)}`
  const list = conflicts
    .slice(0, 5)
    .map((f) => `${f.key} (stored: ${f.remote?.size} bytes, ETag ${f.remote?.etag}; local: ${f.size} bytes)`)
    .join(', ')
  return new CdnPublishError(
    Codes.IMMUTABLE_KEY_CONFLICT,
    `${conflicts.length} fingerprinted key(s) in ${where} already hold other bytes than this build's file of the same name: ${list}` +
      `${conflicts.length > 5 ? ', …' : ''}. A fingerprinted object is never overwritten: CDNs and browsers may cache it for a year. ` +
      'Find what wrote it (another tool or build publishing into the same prefix), then delete that object or publish under another prefix.' +
      (dryRun ? ' Dry run: nothing was written.' : ''),
    { bucket: o.bucket, release: plan.release, keys: conflicts.map((f) => f.key) },
  )
}
