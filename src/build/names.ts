/**
 * Where the content hash sits in an output file name.
 *
 * Rollup and Rolldown name files from patterns (`assets/[name]-[hash][extname]`). A file carries a
 * content hash only when its name was produced by a pattern containing `[hash]`; a file emitted
 * with a fixed `fileName` (such as `sw.js`) or named by a pattern without `[hash]` does not, and
 * must be treated as mutable.
 */

/** Half-open span of the hash inside a file name. */
export type HashSpan = readonly [start: number, end: number]

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/**
 * Compile a file-name pattern to a matcher that returns the span of its `[hash]` placeholder
 * within a concrete file name, or `undefined` when the name does not fit the pattern or the
 * pattern has no hash.
 */
export function compileNamePattern(pattern: string, defaultHashLength = 8): (fileName: string) => HashSpan | undefined {
  let source = ''
  let hashGroups = 0
  let last = 0
  const placeholder = /\[(name|hash|ext|extname|format|id|dir)(?::(\d+))?\]/g
  for (let m = placeholder.exec(pattern); m; m = placeholder.exec(pattern)) {
    source += escapeRe(pattern.slice(last, m.index))
    last = m.index + m[0].length
    switch (m[1]) {
      case 'hash':
        hashGroups++
        source += `([A-Za-z0-9_$-]{${m[2] ?? defaultHashLength}})`
        break
      case 'extname':
        source += '(?:\\.[^/]*)?'
        break
      case 'ext':
      case 'format':
        source += '[^/]*'
        break
      default:
        source += '.*?'
    }
  }
  source += escapeRe(pattern.slice(last))
  if (hashGroups === 0) return () => undefined
  const re = new RegExp(`^${source}$`, 'd')
  return (fileName) => {
    const m = re.exec(fileName)
    // the last [hash] is the one that names this file's content
    const span = m?.indices?.[hashGroups]
    return span ? [span[0], span[1]] : undefined
  }
}

/** Replace the hash at `span` in `fileName` with the first characters of `hash`. */
export function withHash(fileName: string, span: HashSpan, hash: string): string {
  const length = span[1] - span[0]
  if (hash.length < length) throw new Error(`hash too short for ${fileName}`)
  return fileName.slice(0, span[0]) + hash.slice(0, length) + fileName.slice(span[1])
}

/** `img/logo.png` → `img/logo-<hash>.png` (a dot file or a name without extension gets the hash at its end). */
export function fingerprintedName(path: string, hash: string): string {
  const slash = path.lastIndexOf('/')
  const dot = path.lastIndexOf('.')
  if (dot <= slash + 1) return `${path}-${hash}`
  return `${path.slice(0, dot)}-${hash}${path.slice(dot)}`
}

export function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1)
}

export function dirname(path: string): string {
  const i = path.lastIndexOf('/')
  return i < 0 ? '' : path.slice(0, i)
}

/** A path already in normal form, with at most a leading `/`: no empty, `.` or `..` segment. */
const NORMAL_PATH_RE = /^\/?(?!\.\.?(?:\/|$))[^/]+(?:\/(?!\.\.?(?:\/|$))[^/]+)*$/

/** Join and normalise a POSIX path relative to the output root; `undefined` when it climbs above the root. */
export function joinOutputPath(dir: string, relative: string): string | undefined {
  // the usual case, a root-absolute reference or one from the root, needs no splitting
  if ((dir === '' || relative.startsWith('/')) && NORMAL_PATH_RE.test(relative)) return relative.startsWith('/') ? relative.slice(1) : relative
  const parts = relative.startsWith('/') ? [] : dir.split('/').filter(Boolean)
  for (const part of relative.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') {
      if (parts.length === 0) return undefined
      parts.pop()
    } else parts.push(part)
  }
  return parts.join('/')
}

/** Relative URL path from a file in `fromDir` to `to` (both relative to the output root). */
export function relativeOutputPath(fromDir: string, to: string): string {
  const from = fromDir.split('/').filter(Boolean)
  const target = to.split('/')
  let i = 0
  while (i < from.length && i < target.length - 1 && from[i] === target[i]) i++
  const up = from.length - i
  const rest = target.slice(i).join('/')
  return up === 0 ? `./${rest}` : '../'.repeat(up) + rest
}

/** Percent-encode a path for use in a URL, keeping `/` (the inverse of `decodeURI` on paths). */
export function encodeUrlPath(path: string): string {
  return path.split('/').map((s) => encodeURIComponent(s).replace(/%40/g, '@').replace(/%2B/g, '+')).join('/')
}

/** Decode a URL path; returns the input when it is not valid percent-encoding. */
export function decodeUrlPath(url: string): string {
  try {
    return decodeURIComponent(url)
  } catch {
    return url
  }
}
