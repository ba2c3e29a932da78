import { createHash } from 'node:crypto'
import { basename, type HashSpan, withHash } from './names.js'

/** One output file as the rename planner sees it. */
export interface GraphFile {
  fileName: string
  /** Text of files that can name other files (CSS, JS, HTML, JSON, maps); absent for binary files. */
  text?: string
  /** Where the content hash sits in the name; absent for files whose name carries no hash. */
  hashSpan?: HashSpan
}

export interface RenamePlan {
  /** Old file name → new file name, for every hashed file whose bytes (or the bytes of a file it names) changed. */
  renames: Map<string, string>
  /** New text of every file whose text changed because a file it names was renamed. */
  texts: Map<string, string>
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/**
 * Decide new names after some hashed files' bytes changed.
 *
 * Every hashed file that names a changed file (transitively) is stale too. Each stale file's new
 * hash covers its own text, with the names of stale files neutralised, and the texts of every stale
 * file it reaches, so names change exactly when something a file depends on changed. Cycles
 * (chunks importing each other) are handled because a cycle's members reach each other.
 */
export function planRenames(files: readonly GraphFile[], changed: Iterable<string>): RenamePlan {
  const byName = new Map(files.map((f) => [f.fileName, f]))
  const stale = new Set<string>()
  for (const name of changed) if (byName.get(name)?.hashSpan && byName.get(name)?.text !== undefined) stale.add(name)
  const renames = new Map<string, string>()
  const texts = new Map<string, string>()
  if (stale.size === 0) return { renames, texts }

  // Close over "names a stale file".
  let frontier = [...stale]
  while (frontier.length) {
    const next: string[] = []
    for (const f of files) {
      if (stale.has(f.fileName) || !f.hashSpan || f.text === undefined) continue
      if (frontier.some((s) => f.text!.includes(basename(s)))) {
        stale.add(f.fileName)
        next.push(f.fileName)
      }
    }
    frontier = next
  }

  const staleFiles = [...stale].map((n) => byName.get(n)!)
  const neutral = new Map(staleFiles.map((f) => [basename(f.fileName), basename(withHash(f.fileName, f.hashSpan!, '#'.repeat(64)))]))
  const pattern = new RegExp([...neutral.keys()].sort((a, b) => b.length - a.length).map(escapeRe).join('|'), 'g')
  const names = (text: string) => [...new Set(text.match(pattern) ?? [])]

  const own = new Map<string, string>()
  const edges = new Map<string, string[]>()
  for (const f of staleFiles) {
    const normalised = f.text!.replace(pattern, (m) => neutral.get(m)!)
    own.set(f.fileName, `${neutral.get(basename(f.fileName))}:${createHash('sha256').update(normalised).digest('base64url')}`)
    edges.set(
      f.fileName,
      names(f.text!).map((b) => staleFiles.find((s) => basename(s.fileName) === b)!.fileName),
    )
  }
  const newBase = new Map<string, string>()
  for (const f of staleFiles) {
    const reach = new Set([f.fileName])
    for (const n of reach) for (const m of edges.get(n)!) reach.add(m)
    const digest = createHash('sha256')
      .update([...reach].map((n) => own.get(n)!).sort().join('\n'))
      .digest('base64url')
    const renamed = withHash(f.fileName, f.hashSpan!, digest)
    renames.set(f.fileName, renamed)
    newBase.set(basename(f.fileName), basename(renamed))
  }
  for (const f of files) {
    if (f.text === undefined) continue
    const updated = f.text.replace(pattern, (m) => newBase.get(m)!)
    if (updated !== f.text) texts.set(f.fileName, updated)
  }
  return { renames, texts }
}
