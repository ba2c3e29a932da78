/**
 * The bucket layout as the tests expect it, written out here rather than imported from the code
 * under test, so that a change to where records and snapshots are stored fails the tests: release
 * records under `<prefix>.cdn-publish/releases/`, snapshots of mutable files under
 * `<prefix>.cdn-publish/snapshots/`, named by the hex SHA-384 of their bytes, and the switch lease
 * at `<prefix>.cdn-publish/lease.json`.
 */
import { sha384hex } from './digest.js'

/** Key of the record of `release` under `prefix` (`''` or ending in `/`). */
export const recordKey = (prefix: string, release: string) => `${prefix}.cdn-publish/releases/${release}.json`

/** Key of the snapshot of `bytes` (a mutable file or the manifest, stored unencoded) under `prefix`. */
export const snapshotKey = (prefix: string, bytes: Uint8Array) => `${prefix}.cdn-publish/snapshots/${sha384hex(bytes)}`

/** Key of the switch lease under `prefix`: held by a publish or rollback while it switches. */
export const leaseKey = (prefix: string) => `${prefix}.cdn-publish/lease.json`
