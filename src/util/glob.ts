/**
 * A small glob matcher for paths relative to the output directory (`/`-separated):
 *
 * - `*` any run of characters except `/`
 * - `?` one character except `/`
 * - `**` any run of characters including `/`; a whole `**` segment followed by `/` also matches
 *   no directory at all (`assets/` + `**` + `/x.js` matches `assets/x.js`)
 * - `{a,b}` either alternative (nestable; alternatives may use the other forms)
 * - a backslash makes the next character literal
 *
 * Patterns match the whole path: `*.png` matches `logo.png` only at the top level, while `**`
 * followed by `/*.png` matches at any depth. A leading `/` or `./` is ignored. Dots are not special.
 */

export type GlobMatcher = (path: string) => boolean

/** Compile a glob into a predicate; throws `Error` with a short reason for a malformed pattern. */
export function compileGlob(pattern: string): GlobMatcher {
  const re = new RegExp(`^${globSource(pattern.replace(/^\.?\/+/, ''))}$`, 'u')
  return (path) => re.test(path)
}

/** Whether `path` matches any of the patterns. */
export function matchesAny(matchers: readonly GlobMatcher[], path: string): boolean {
  return matchers.some((m) => m(path))
}

function globSource(pattern: string): string {
  let out = ''
  let i = 0
  while (i < pattern.length) {
    const c = pattern[i]
    if (c === '\\') {
      if (i + 1 >= pattern.length) throw new Error('ends with an unescaped "\\"')
      out += escapeRegExp(pattern[i + 1])
      i += 2
    } else if (c === '*') {
      if (pattern[i + 1] === '*') {
        const atStart = i === 0 || pattern[i - 1] === '/'
        if (atStart && pattern[i + 2] === '/') {
          // `**/`: zero or more whole directories
          out += '(?:.*/)?'
          i += 3
        } else {
          out += '.*'
          i += 2
          while (pattern[i] === '*') i++
        }
      } else {
        out += '[^/]*'
        i++
      }
    } else if (c === '?') {
      out += '[^/]'
      i++
    } else if (c === '{') {
      const end = closingBrace(pattern, i)
      const alternatives = splitAlternatives(pattern.slice(i + 1, end))
      out += `(?:${alternatives.map(globSource).join('|')})`
      i = end + 1
    } else if (c === '}') {
      throw new Error('has a "}" without a matching "{"')
    } else {
      out += escapeRegExp(c)
      i++
    }
  }
  return out
}

/** Index of the `}` closing the `{` at `start`. */
function closingBrace(pattern: string, start: number): number {
  let depth = 0
  for (let i = start; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === '\\') i++
    else if (c === '{') depth++
    else if (c === '}' && --depth === 0) return i
  }
  throw new Error('has a "{" without a matching "}"')
}

/** Split the inside of `{…}` at top-level commas. */
function splitAlternatives(body: string): string[] {
  const parts: string[] = []
  let depth = 0
  let from = 0
  for (let i = 0; i < body.length; i++) {
    const c = body[i]
    if (c === '\\') i++
    else if (c === '{') depth++
    else if (c === '}') depth--
    else if (c === ',' && depth === 0) {
      parts.push(body.slice(from, i))
      from = i + 1
    }
  }
  parts.push(body.slice(from))
  return parts
}

function escapeRegExp(c: string): string {
  return /[\\^$.*+?()[\]{}|]/.test(c) ? `\\${c}` : c
}
