/**
 * Which file names carry a content hash, for files the bundler did not write (a framework's route
 * manifest, a prerendered page's assets, the output of another static generator). The build's own
 * outputs are classified by the bundler's name patterns instead; this list is only for the rest.
 *
 * A name carries a hash when, after dropping a trailing `.map` and the extension, it is one of:
 *
 * | form | written by (for example) |
 * |---|---|
 * | `<name>-<hash>.<ext>` | Vite and Rollup (`[name]-[hash]`), React Router, esbuild, this plugin's fingerprinted copies |
 * | `<name>.<hash>.<ext>` | Astro and SvelteKit (`[name].[hash]`), Parcel, webpack's `[contenthash]`, Hugo |
 * | `<hash>.<ext>` | Nuxt (`_nuxt/[hash].js`) |
 *
 * where `<hash>` is either 8 characters of Rollup's alphabet (`A-Z a-z 0-9 _ - $`) or 9 to 64
 * letters and digits, and looks random: it mixes letters and digits, or (8 characters only) its
 * letter case changes at least three times (`BxPkQaZw`). Words, version numbers and dates do not:
 * `roboto-regular.woff2`, `jquery-3.7.1.js`, `report-20240101.pdf`, `icon-1024x1024.png` are
 * mutable. When in doubt a file is mutable: a wrongly mutable file is only revalidated, a wrongly
 * immutable one could be served stale for a year.
 */

/** The forms above, as the dry-run plan names them. */
export type HashedNameForm = '<name>-<hash>.<ext>' | '<name>.<hash>.<ext>' | '<hash>.<ext>'

const SHORT_HASH_RE = /^[A-Za-z0-9_$-]{8}$/
const LONG_HASH_RE = /^[A-Za-z0-9]{9,64}$/
/** `1024x1024`: an icon's size, not a hash. */
const DIMENSIONS_RE = /^\d+x\d+$/

/** The hashed-name form of the file at `path` (POSIX, relative), or undefined when it carries none. */
export function hashedNameForm(path: string): HashedNameForm | undefined {
  let name = path.slice(path.lastIndexOf('/') + 1)
  if (name.endsWith('.map')) name = name.slice(0, -4)
  const dot = name.lastIndexOf('.')
  const stem = dot > 0 ? name.slice(0, dot) : name
  if (looksLikeHash(stem)) return '<hash>.<ext>'
  for (let length = 8; length <= 64 && length < stem.length; length++) {
    const separator = stem[stem.length - length - 1]
    if ((separator === '-' || separator === '.') && looksLikeHash(stem.slice(-length))) {
      return separator === '-' ? '<name>-<hash>.<ext>' : '<name>.<hash>.<ext>'
    }
  }
  return undefined
}

function looksLikeHash(token: string): boolean {
  if (token.length === 8) {
    if (!SHORT_HASH_RE.test(token)) return false
  } else if (!LONG_HASH_RE.test(token)) return false
  if (DIMENSIONS_RE.test(token)) return false
  const digits = /[0-9]/.test(token)
  const letters = /[A-Za-z]/.test(token)
  if (digits && letters) return true
  return token.length === 8 && caseChanges(token) >= 3
}

function caseChanges(token: string): number {
  let changes = 0
  let previous: boolean | undefined
  for (const c of token) {
    if (!/[A-Za-z]/.test(c)) continue
    const upper = c <= 'Z'
    if (previous !== undefined && upper !== previous) changes++
    previous = upper
  }
  return changes
}
