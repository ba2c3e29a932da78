import { isExternalOrSpecialUrl } from './css-urls.js'
import { decodeUrlPath, dirname, encodeUrlPath, joinOutputPath, relativeOutputPath } from './names.js'

export type HostType = 'css' | 'html'

/** Vite's `experimental.renderBuiltUrl`. */
export type RenderBuiltUrl = (
  fileName: string,
  context: { type: 'asset' | 'public'; hostId: string; hostType: 'js' | 'css' | 'html'; ssr: boolean },
) => string | { relative?: boolean; runtime?: string } | undefined

export const ABSOLUTE_URL_RE = /^[a-z][a-z\d+.-]*:/i
const PROBE = '__cdn_publish_probe__/file'

/** True when a URL prefix names a site: a scheme (`https:`) or protocol-relative (`//host`). */
const namesSite = (prefix: string) => ABSOLUTE_URL_RE.test(prefix) || /^[/\\]{2}/.test(prefix)

/** True when a reference is written relative to the file that contains it. */
export const isRelativeUrl = (url: string) => !url.startsWith('/') && !ABSOLUTE_URL_RE.test(url)

/**
 * How output files are addressed from the files that name them, for one `base` (and Vite's
 * `renderBuiltUrl`, when set). Pure: paths are relative to the output root.
 */
export function createUrls(base: string, renderBuiltUrl?: RenderBuiltUrl) {
  const rooted = ABSOLUTE_URL_RE.test(base) || base.startsWith('/') ? (base.endsWith('/') ? base : `${base}/`) : undefined
  // A base that needs percent-encoding is written both ways: Vite puts '/foo%20bar/' in CSS and
  // srcset, '/foo bar/' in the src and href attributes of pages.
  const rootedForms = rooted ? [...new Set([rooted, decodeUrlPath(rooted), encodeURI(decodeUrlPath(rooted))])] : []

  /** The URL under which the browser finds output file `fileName`, written into `host`. */
  const builtUrl = (fileName: string, host: string, hostType: HostType, relative: boolean): string => {
    if (renderBuiltUrl) {
      const r = renderBuiltUrl(fileName, { type: 'asset', hostId: host, hostType, ssr: false })
      if (typeof r === 'string') return r
      if (r && typeof r === 'object' && r.relative) relative = true
    }
    if (relative || !rooted) return encodeUrlPath(relativeOutputPath(dirname(host), fileName))
    return rooted + encodeUrlPath(fileName)
  }

  /**
   * URL prefixes under which the output root is served to `host`: `base`, and whatever
   * `renderBuiltUrl` puts before a file name (found by asking it about a probe name).
   */
  const rootPrefixes = (host: string, hostType: HostType): string[] => {
    const prefixes = [...rootedForms]
    for (const type of renderBuiltUrl ? (['public', 'asset'] as const) : []) {
      try {
        const r = renderBuiltUrl!(PROBE, { type, hostId: host, hostType, ssr: false })
        if (typeof r === 'string' && r.endsWith(PROBE)) prefixes.push(r.slice(0, -PROBE.length))
      } catch {
        // a renderBuiltUrl that rejects unknown names tells us nothing
      }
    }
    return prefixes
  }

  /** The output path a URL found in `host` points at, or undefined when it points elsewhere. */
  const outputPathOf = (url: string, host: string, hostType: HostType): string | undefined => {
    // A URL of another site ('https://…', protocol-relative '//cdn.example.com/…') is ours only
    // under a prefix that names a site too: a path prefix such as base '/' must not read
    // '//cdn.example.com/x.png' as the output file 'cdn.example.com/x.png'.
    const external = isExternalOrSpecialUrl(url)
    for (const prefix of rootPrefixes(host, hostType)) {
      if (external && !namesSite(prefix)) continue
      if (url.startsWith(prefix)) return joinOutputPath('', decodeUrlPath(url.slice(prefix.length)))
    }
    if (external) return undefined
    if (url.startsWith('/')) return rooted && rooted !== '/' ? undefined : joinOutputPath('', decodeUrlPath(url))
    return joinOutputPath(dirname(host), decodeUrlPath(url))
  }

  return { builtUrl, outputPathOf }
}
