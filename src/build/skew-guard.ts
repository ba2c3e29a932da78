/**
 * The runtime skew guard (`skewGuard`): a tiny classic script every published page that runs
 * scripts loads first, and the `cdn-release.json` it reads.
 *
 * A page knows the build it belongs to (`data-build`): the id of every published file but the
 * pages and `cdn-release.json` itself, which is what a page's scripts and styles can fail on.
 * (The release id cannot be it: it hashes every file, the pages that would carry it included.)
 * `cdn-release.json` says which build and which release are live; the switch writes it right
 * before the stable manifest, after every page, so it never names a build whose pages are not
 * served yet. It is a mutable file of the release like any other: snapshots, rollback and
 * pruning treat it as they treat a page.
 *
 * When a file of the page fails to load (Vite's `vite:preloadError`, a dynamic import rejected
 * with the browsers' "failed to fetch/load module" errors), the guard reads the live build:
 * another build than the page's, and not the one this tab already reloaded toward
 * (`sessionStorage`), reloads once; otherwise the error goes through. So a tab reloads at most
 * once per new build: still stale after the reload (a cached page), or landed on a build that
 * is itself broken, it does not reload again. `cdn-publish:skew` tells the page what was decided;
 * with `poll`, `cdn-publish:update` says once per new build that one is live.
 */
import type { ResolvedSkewGuard } from '../options/types.js'
import { contentHash, hexHash } from './hash.js'
import { encodeAttributeValue, placeBeforeFirstScript } from './html-refs.js'
import { describeFile, RELEASE_FILE, releaseId } from './manifest.js'
import type { ManifestFile } from './manifest-types.js'
import { fingerprintedName } from './names.js'
import { isHtml } from './outputs.js'
import { createUrls } from './urls.js'

/** The guard's name before its content hash. */
export const GUARD_NAME = 'cdn-skew-guard.js'

/**
 * The guard, written small by hand (no dependency, no build step): it reads its settings from
 * its own `<script>` element's data attributes.
 */
export const GUARD_SCRIPT =
  '(()=>{const d=document.currentScript.dataset,B=d.build,U=d.releaseUrl,R=d.reload!=="false",P=+d.poll||0,K="cdn-publish:reload",h=history,p=h.pushState;' +
  'let S,busy,seen,next;try{S=sessionStorage}catch(e){}' +
  'const live=()=>fetch(U,{cache:"no-store"}).then(r=>r.ok?r.json():{}).then(j=>j.build,()=>{}),' +
  'emit=(n,x)=>dispatchEvent(new CustomEvent("cdn-publish:"+n,{detail:x})),' +
  'check=()=>{if(busy)return;busy=1;live().then(l=>{let r=R&&!!l&&l!==B&&!!S;try{r=r&&S.getItem(K)!==l}catch(e){r=!1}' +
  'emit("skew",{build:B,live:l,reload:r});if(r){S.setItem(K,l);location.reload()}else busy=0})},' +
  'go=()=>{next&&location.reload()};' +
  'addEventListener("vite:preloadError",check);' +
  'addEventListener("unhandledrejection",e=>{/dynamically imported module|module script failed/i.test(e.reason&&e.reason.message)&&check()});' +
  'if(P){setInterval(()=>live().then(l=>{if(l&&l!==B&&l!==seen){seen=l;next=R;emit("update",{build:B,live:l})}}),P);' +
  'h.pushState=function(){p.apply(h,arguments);go()};addEventListener("popstate",go)}})()\n'

/** The build id of a release's files: everything but the pages and the release file. */
export function buildId(files: Record<string, ManifestFile>): string {
  return hexHash(
    Object.keys(files)
      .filter((p) => !isHtml(p) && p !== RELEASE_FILE)
      .sort()
      .map((p) => `${p}\0${files[p].integrity}`)
      .join('\n'),
  )
}

/**
 * The text of `cdn-release.json`: the build the guard compares, and the release id (the id the
 * manifest, the records and the CLI show, of every file but this one).
 */
export function releaseFileText(build: string, release: string): string {
  return `${JSON.stringify({ build, release })}\n`
}

/** The `<script>` element a page loads the guard with. */
export function guardTag(opts: { src: string; build: string; releaseUrl: string; guard: ResolvedSkewGuard; integrity?: string }): string {
  let tag = `<script src="${encodeAttributeValue(opts.src, '"')}" data-cdn-skew-guard data-build="${opts.build}" data-release-url="${encodeAttributeValue(opts.releaseUrl, '"')}"`
  if (opts.guard.pollMs !== false) tag += ` data-poll="${opts.guard.pollMs}"`
  if (!opts.guard.reload) tag += ' data-reload="false"'
  if (opts.integrity) tag += ` integrity="${opts.integrity}" crossorigin`
  return `${tag}></script>`
}


/** What `addSkewGuard` works on: the final directory's files, as `finalDirectory` builds them. */
export interface GuardedDirectory {
  files: Record<string, ManifestFile>
  /** Bytes to write to the directory, by path (pages already rewritten in this pass are here). */
  writes: Map<string, Uint8Array>
  onDisk: Set<string>
  base: string
  hashLength: number
  /** Put the guard's integrity on its tag (`sri`). */
  sri: boolean
  guard: ResolvedSkewGuard
  /** The page's text as it stands in this pass. */
  readPage(page: string): Promise<string>
  /** Record what changed and why (`reason` is appended when the path changed already). */
  change(path: string, action: 'add' | 'rewrite', reason: string, immutable?: boolean): void
}

/**
 * The guard added to a final directory: its file, `cdn-release.json`, and the `<script>` before
 * the first script of every page. Running it again on its own output changes nothing.
 */
export async function addSkewGuard(d: GuardedDirectory): Promise<void> {
  const { files } = d
  const bytes = Buffer.from(GUARD_SCRIPT)
  const guardFile = fingerprintedName(GUARD_NAME, contentHash(bytes, d.hashLength))
  if (!files[guardFile]) {
    files[guardFile] = describeFile({ fileName: guardFile, bytes, immutable: true })
    if (!d.onDisk.has(guardFile)) d.writes.set(guardFile, bytes)
    d.change(guardFile, 'add', 'the skew guard (skewGuard)', true)
  }
  const build = buildId(files)
  const urls = createUrls(d.base)
  const pages = Object.keys(files).filter(isHtml).sort()
  for (const page of pages) {
    const tag = guardTag({
      src: urls.builtUrl(guardFile, page, 'html', false),
      build,
      releaseUrl: urls.builtUrl(RELEASE_FILE, page, 'html', false),
      guard: d.guard,
      ...(d.sri ? { integrity: files[guardFile].integrity } : {}),
    })
    const updated = placeBeforeFirstScript(await d.readPage(page), tag, (attr) => attr('data-cdn-skew-guard') !== undefined)
    if (updated === undefined) continue
    d.writes.set(page, Buffer.from(updated))
    files[page] = describeFile({ fileName: page, bytes: updated, immutable: false })
    d.change(page, 'rewrite', 'loads the skew guard')
  }
  const text = releaseFileText(build, releaseId(files))
  const release = describeFile({ fileName: RELEASE_FILE, bytes: text, immutable: false })
  if (files[RELEASE_FILE]?.integrity === release.integrity) return
  d.change(RELEASE_FILE, files[RELEASE_FILE] ? 'rewrite' : 'add', 'names the live build for the skew guard (skewGuard)', false)
  files[RELEASE_FILE] = release
  d.writes.set(RELEASE_FILE, Buffer.from(text))
}
