/**
 * Putting the mutable files back after a failed switch: the previous release's bytes, from the
 * snapshots its record lists, under the keys the switch had already overwritten. And, first,
 * whether the manifest PUT that failed landed after all (then nothing is put back).
 */
import type { ResolvedPublishOptions } from '../options/types.js'
import type { PlannedFile } from './plan.js'
import type { ReleaseRecord } from '../bucket/record.js'
import { pool } from '../util/pool.js'
import { md5Hex } from '../build/hash.js'
import type { Snapshot } from '../bucket/record.js'
import type { ObjectStore, PutRequest } from '../bucket/store.js'

/** What a revert put back of the mutable files, and what it could not (keys, sorted). */
export interface Reverted {
  restored: string[]
  failed: string[]
}

type RevertOptions = Pick<ResolvedPublishOptions, 'prefix' | 'concurrency'>

/** A mutable file to put back: its full key and its path relative to the prefix. */
type RevertFile = Pick<PlannedFile, 'key' | 'path'>

/**
 * Put the previous release's bytes back under the mutable keys a failed switch overwrote, from
 * its snapshots. Best effort: says what could not be restored (the rerun completes the release).
 */
export async function revert(store: ObjectStore, o: RevertOptions, files: RevertFile[], previous: ReleaseRecord | undefined): Promise<Reverted> {
  const restored: string[] = []
  const failed: string[] = []
  let todo = files
  // the store that just failed is often back within seconds (a restart, a throttling burst):
  // a few more rounds, further apart, before giving up
  for (const pause of REVERT_PAUSES_MS) {
    const again: RevertFile[] = []
    await pool(todo, o.concurrency, async (f) => {
      const done = await revertOne(store, o, f, previous)
      if (done === 'restored') restored.push(f.key)
      else if (done === 'failed' && previous?.snapshots?.[f.path]) again.push(f)
      else if (done === 'failed') failed.push(f.key)
    })
    todo = again
    if (todo.length === 0) break
    await new Promise((resolve) => setTimeout(resolve, pause))
  }
  failed.push(...todo.map((f) => f.key))
  return { restored: restored.sort(), failed: failed.sort() }
}

/** Whether the stable manifest holds these bytes; `undefined` when the store cannot tell (still failing). */
export async function manifestLanded(store: ObjectStore, key: string, md5Hex: string): Promise<boolean | undefined> {
  for (const pause of REVERT_PAUSES_MS) {
    try {
      return (await store.head(key))?.etag === md5Hex
    } catch {
      await new Promise((resolve) => setTimeout(resolve, pause))
    }
  }
  return undefined
}

/** Pauses between the rounds of a revert (about 8 s in all). */
const REVERT_PAUSES_MS = [250, 500, 1000, 2000, 4000, 0]

/** Put one file back: `'restored'`, `'new'` (the previous release had no such file), or `'failed'`. */
async function revertOne(store: ObjectStore, o: RevertOptions, f: RevertFile, previous: ReleaseRecord | undefined): Promise<'restored' | 'new' | 'failed'> {
  const snap = previous?.snapshots?.[f.path]
  if (!snap) return previous?.files[f.path] ? 'failed' : 'new'
  try {
    const body = await store.getBytes(o.prefix + snap.key)
    if (body === undefined) return 'failed'
    await restore(store, f.key, body, snap)
    return 'restored'
  } catch {
    return 'failed'
  }
}

/** Write a snapshot's bytes back under `key`, with the headers the snapshot recorded. */
export async function restore(store: ObjectStore, key: string, body: Uint8Array, s: Snapshot, condition?: Pick<PutRequest, 'ifMatch' | 'ifNoneMatch'>): Promise<void> {
  await store.put({
    ...condition,
    key,
    body,
    contentLength: body.length,
    contentType: s.contentType,
    cacheControl: s.cacheControl,
    ...(s.contentEncoding !== undefined ? { contentEncoding: s.contentEncoding } : {}),
    ...(s.extra && Object.keys(s.extra).length ? { metadata: { ...s.extra } } : {}),
    md5: md5Hex(body),
  })
}

